"""Scripted motion: a limited joint motion sent as forward_position_controller (and gripper) commands.

Drives the demo and checks a new setup (sim or real arm) end to end. Two patterns: `sines` (each
joint a sine around home, a smooth test motion) and `babbling` (random joint targets around home,
each held for a random time: the motor babbling the self model learns from, as in the recorded
datasets). Safety: it only moves once it has fresh joint states, steps at most at the joint
velocity limits from the measured positions, and when joint states go stale it commands the last
measured position once and waits. Unusable joint states are dropped with a throttled warning and
counted per reason in `dropped`.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from smrl_common.core.controller_topics import ARM_COMMANDS, GRIPPER_COMMANDS
from smrl_common.core.joint_names import duplicate_names
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_sim.core.motor_babbling import random_joint_targets
from smrl_sim.core.robot_config import load_robot_config

PARAMETERS = {
    "robot": ("panda", "Robot config name (config/robots) or YAML path: joint names and limits."),
    "rate_hz": (20.0, "Command rate."),
    "pattern": ("sines", "Motion pattern: 'sines' (a smooth test motion) or 'babbling' (random targets)."),
    "amplitude_rad": (0.5, "sines: amplitude of each joint's sine around the home pose."),
    "period_s": (6.0, "sines: period of the slowest joint's sine; other joints move faster."),
    "babbling_spread": (0.35, "babbling: fraction of each joint's range the targets spread over (at most +-1.2 rad)."),
    "babbling_hold_s": ([0.3, 1.0], "babbling: each target is held for a time drawn uniformly from this [min, max] (s)."),
    "seed": (0, "babbling: random seed of the targets."),
    "gripper_period_s": (4.0, "The gripper closes and opens with this period; 0 leaves it alone."),
    "stale_timeout_s": (0.5, "Joint states older than this stop the motion."),
    "speed_scale": (0.5, "Fraction of the joint velocity limits the motion may use."),
}


class ScriptedMotionNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("scripted_motion", **node_options)
        self.p = declare_parameters(self, PARAMETERS)
        if self.p["pattern"] not in ("sines", "babbling"):
            raise ValueError(f"pattern must be 'sines' or 'babbling', not {self.p['pattern']!r}")
        hold_s = self.p["babbling_hold_s"]
        if len(hold_s) != 2 or not 0 < hold_s[0] <= hold_s[1]:
            raise ValueError(f"babbling_hold_s must be [min, max] with 0 < min <= max, not {hold_s}")
        self.robot = load_robot_config(self.p["robot"])
        self.limits = self.robot.arm_limits()
        self.home = np.array(self.robot.home_positions)
        self.measured: np.ndarray | None = None
        self.measured_at = None
        self.stopped = True
        self.started_at = None
        self.rng = np.random.default_rng(self.p["seed"])
        self.babbling_target: np.ndarray = self.home
        self.babbling_until_s = 0.0
        self.dropped: Counter = Counter()  # reason -> joint states dropped
        self.arm_pub = self.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
        self.gripper_pub = self.create_publisher(Float64MultiArray, GRIPPER_COMMANDS, 10)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, 10)
        self.create_timer(1.0 / self.p["rate_hz"], self.on_tick)

    def on_joint_state(self, msg: JointState) -> None:
        index = {name: i for i, name in enumerate(msg.name)}
        if len(msg.position) != len(msg.name):
            return self.drop("joint count mismatch", f"{len(msg.name)} names but {len(msg.position)} positions")
        if duplicate_names(msg.name):
            return self.drop("duplicate joint names", f"{duplicate_names(msg.name)} more than once")
        if not all(n in index for n in self.robot.joint_names):
            return self.drop("unknown joint names", f"not all of this robot's joints {self.robot.joint_names}")
        positions = np.array([msg.position[index[n]] for n in self.robot.joint_names])
        if not np.all(np.isfinite(positions)):
            return self.drop("non-finite positions", f"{positions.tolist()}")
        self.measured, self.measured_at = positions, self.get_clock().now()

    def drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.get_logger().warning(f"dropped joint_states: {reason}: {detail} (dropped so far: {dict(self.dropped)})",
                                  throttle_duration_sec=5.0)

    def on_tick(self) -> None:
        now = self.get_clock().now()
        fresh = self.measured_at is not None and (now - self.measured_at).nanoseconds * 1e-9 < self.p["stale_timeout_s"]
        if not fresh:
            if not self.stopped and self.measured is not None:
                self.arm_pub.publish(Float64MultiArray(data=self.measured.tolist()))
                self.get_logger().warning("joint states are stale: holding the last measured position")
            self.stopped = True
            return
        if self.stopped:
            self.stopped, self.started_at, self.babbling_until_s = False, now, 0.0
            self.get_logger().info("joint states are fresh: moving")
        t = (now - self.started_at).nanoseconds * 1e-9
        goal = self.babbling_goal(t) if self.p["pattern"] == "babbling" else self.sines_goal(t)
        command = self.limits.limit_step(self.measured, goal, self.p["speed_scale"] / self.p["rate_hz"])
        self.arm_pub.publish(Float64MultiArray(data=command.tolist()))
        if self.p["gripper_period_s"] > 0:
            closed = math.sin(2 * math.pi * t / self.p["gripper_period_s"]) > 0
            grip = self.robot.gripper_closed_positions if closed else self.robot.gripper_open_positions
            self.gripper_pub.publish(Float64MultiArray(data=list(grip)))


    def sines_goal(self, t_s: float) -> np.ndarray:
        phases = np.arange(len(self.home))
        periods = self.p["period_s"] / (1.0 + 0.25 * phases)
        return self.limits.clamp(self.home + self.p["amplitude_rad"] * np.sin(2 * math.pi * t_s / periods + phases))

    def babbling_goal(self, t_s: float) -> np.ndarray:
        if t_s >= self.babbling_until_s:
            self.babbling_target = random_joint_targets(self.home, self.limits, self.p["babbling_spread"], self.rng)
            self.babbling_until_s = t_s + self.rng.uniform(*self.p["babbling_hold_s"])
        return self.babbling_target


def main(args: list[str] | None = None) -> None:
    run_node(ScriptedMotionNode, args)


if __name__ == "__main__":
    main()
