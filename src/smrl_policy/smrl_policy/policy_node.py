"""The policy node: a trained policy drives the arm from the self-model state (what it learned from pixels).

In: `self_model/state` (smrl_msgs/SelfModelState, sensor data QoS) and `joint_states`. Out, at
`rate_hz`: ros2_control forward position commands for the arm (one position per arm joint, in the
robot config's order) and the gripper (std_msgs/Float64MultiArray, on
smrl_common.core.controller_topics' topics), the topics the sim and the replay driver take; and
`policy/latency_ms` (std_msgs/Float64): camera image stamp (the state's header) -> the arm command
published, for every policy command (the log also gives the node's own share: state received ->
command).

Each control tick: observation = the measured arm and gripper joints (the freshest joint states:
what the action's deltas apply to; the env's `joint_positions`) + the newest state's keypoints (smrl_policy.core.observation), the
policy's action, and smrl_policy.core.command_safety turns it into targets within the position
limits and, at every command, the velocity limits. Ticks follow the camera: a tick runs as soon
as a new self-model state arrives once 3/4 of a period (1 / rate_hz) has passed since the previous
one, so each command uses the newest image at once (with 30 Hz images and 10 Hz, every third).
When no new state comes for 1.25 periods, a timer runs the tick (so commands go on, at 0.8 x
rate_hz, while the inputs are missing: holding, or acting on a still fresh state). Stale inputs (the state's image
older than `stale_after_s`, or joint states received longer ago) or an unusable action make it
hold the measured position, counted per reason; malformed messages are dropped, counted per
reason, never a crash. Counts and latency are logged every `report_period_s` and at exit.
"""
from __future__ import annotations

import time
from collections import Counter, deque

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray

from smrl_common.core.controller_topics import ARM_COMMANDS, GRIPPER_COMMANDS
from smrl_common.core.latency import latency_summary_ms
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_msgs.msg import SelfModelState
from smrl_policy.core.command_safety import ActionRejected, CommandSafety, JointTargets, stale_input
from smrl_policy.core.observation import self_model_observation
from smrl_policy.core.policy import Policy, load_policy
from smrl_self_model.core.joint_states import MalformedJointState, arm_joint_positions
from smrl_sim.core.robot_config import load_robot_config

PARAMETERS = {
    "policy_file": ("", "Policy file to run (as the training commands save them); required."),
    "robot": ("panda", "Robot config name (config/robots) or YAML path: joint names, position and velocity "
                       "limits, gripper open / closed positions; the arm the policy was trained on."),
    "rate_hz": (10.0, "Commands per second while self-model states come at least that fast (0.8 x when none "
                      "come). 10 Hz is the env's control period (0.1 s) policies are trained at: each action "
                      "moves the joints by up to max_joint_delta_rad."),
    "stale_after_s": (0.25, "Hold the measured position when the self-model state's image is older than this, "
                            "or joint states were received longer ago (s)."),
    "report_period_s": (10.0, "Period of the log line with the counters and the latency (s)."),
}
#: A new self-model state starts a tick at once when this fraction of a period has passed since the last.
EARLY_TICK_FRACTION = 0.75
#: Without new self-model states a tick runs this many periods after the last (after, not at, one
#: period: a timer firing at one period would race the camera's next image and win half the time).
TIMER_TICK_PERIODS = 1.25
LATENCIES_KEPT = 1000


class PolicyLoadError(ValueError):
    """No policy, or a policy file that cannot be loaded or run here; the message says which and why."""


def load_policy_file(path: str) -> Policy:
    """The policy in `path`, through the training side's loader (smrl_policy.core.policy.load_policy)."""
    if not path:
        raise PolicyLoadError("no policy given (parameter policy_file)")
    try:
        return load_policy(path)
    except Exception as error:  # noqa: BLE001 - missing, corrupt or foreign files fail in many ways
        raise PolicyLoadError(f"{path}: {error}") from error


class PolicyNode(Node):
    def __init__(self, policy: Policy | None = None, **node_options) -> None:
        """`policy`: the policy to run (tests, evaluation); None loads the parameter policy_file."""
        super().__init__("policy", **node_options)
        self.started = False  # destroy_node reports only for a node that got that far
        p = declare_parameters(self, PARAMETERS)
        self.p = p
        if not p["rate_hz"] > 0 or not p["stale_after_s"] > 0 or not p["report_period_s"] > 0:
            raise ValueError("rate_hz, stale_after_s and report_period_s must be positive")
        self.policy = policy if policy is not None else load_policy_file(p["policy_file"])
        if not isinstance(self.policy, Policy):
            raise PolicyLoadError(f"{type(self.policy).__name__} is not a Policy (observation_kind, "
                                  f"max_joint_delta_rad, act, save)")
        if self.policy.observation_kind != "self_model":
            raise PolicyLoadError(f"the policy observes {self.policy.observation_kind!r}; on the robot only "
                                  f"'self_model' observations exist (privileged ones are the sim's state)")
        if getattr(self.policy, "metadata", {}).get("scripted_grasp"):
            raise PolicyLoadError("the policy steers the hand through the scripted grasp (smrl_policy.core."
                                  "scripted_grasp), which this node does not run: its actions are not joint changes")
        robot = load_robot_config(p["robot"])
        self.arm_names = list(robot.joint_names)
        self.gripper_names = list(robot.gripper_joint_names)
        self.period_s = 1.0 / p["rate_hz"]
        self.safety = CommandSafety(robot.arm_limits(), robot.gripper_limits(), np.array(robot.gripper_open_positions),
                                    np.array(robot.gripper_closed_positions), self.policy.max_joint_delta_rad,
                                    self.period_s)
        self.measured_arm: np.ndarray | None = None
        self.measured_gripper: np.ndarray | None = None
        self.joint_state_received_s: float | None = None
        self.keypoints: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # centres, intensities, labels
        self.state_stamp_s: float | None = None
        self.state_received_s = 0.0
        self.last_tick_s = -np.inf
        self.dropped: Counter = Counter()   # reason -> messages (or actions) dropped
        self.latencies_ms: deque[float] = deque(maxlen=LATENCIES_KEPT)         # image stamp -> command
        self.node_latencies_ms: deque[float] = deque(maxlen=LATENCIES_KEPT)    # state received -> command

        self.arm_pub = self.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
        self.gripper_pub = self.create_publisher(Float64MultiArray, GRIPPER_COMMANDS, 10)
        self.latency_pub = self.create_publisher(Float64, "policy/latency_ms", 10)
        self.create_subscription(SelfModelState, "self_model/state", self.on_self_model_state, qos_profile_sensor_data)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, 10)
        self.tick_timer = self.create_timer(TIMER_TICK_PERIODS * self.period_s, self.on_tick)
        self.create_timer(p["report_period_s"], self.report)
        self.get_logger().info(
            f"{type(self.policy).__name__} drives {robot.name} at {p['rate_hz']:g} Hz on "
            f"{self.arm_pub.topic_name} and {self.gripper_pub.topic_name}; max joint delta "
            f"{self.policy.max_joint_delta_rad:g} rad an action; holds when inputs are older than {p['stale_after_s']:g} s")
        self.started = True

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # --- inputs -------------------------------------------------------------------------------
    def on_self_model_state(self, msg: SelfModelState) -> None:
        count = len(msg.keypoints)
        if len(msg.frame_labels) != count:
            return self.drop("self_model/state: label count mismatch",
                             f"{count} keypoints but {len(msg.frame_labels)} frame labels")
        centres = np.array([(k.x_norm, k.y_norm) for k in msg.keypoints], dtype=np.float64).reshape(count, 2)
        intensities = np.array([k.intensity for k in msg.keypoints], dtype=np.float64)
        if not (np.isfinite(centres).all() and np.isfinite(intensities).all()):
            return self.drop("self_model/state: non-finite keypoints", f"{centres.tolist()}, {intensities.tolist()}")
        self.keypoints = centres, intensities, np.array(msg.frame_labels, dtype=np.uint8)
        self.state_stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.state_received_s = self.now_s()
        if self.state_received_s - self.last_tick_s >= EARLY_TICK_FRACTION * self.period_s:
            self.on_tick()

    def on_joint_state(self, msg: JointState) -> None:
        try:
            arm = arm_joint_positions(msg.name, msg.position, self.arm_names)
        except MalformedJointState as error:
            return self.drop(f"joint_states: {error.reason}", str(error))
        index = {name: i for i, name in enumerate(msg.name)}
        gripper = None
        if self.gripper_names and all(name in index for name in self.gripper_names):
            gripper = np.array([msg.position[index[name]] for name in self.gripper_names], dtype=np.float64)
            gripper = gripper if np.isfinite(gripper).all() else None
        self.measured_arm, self.measured_gripper, self.joint_state_received_s = arm, gripper, self.now_s()

    def drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.get_logger().warning(f"{reason}: {detail} (dropped so far: {dict(self.dropped)})",
                                  throttle_duration_sec=5.0)

    # --- control ------------------------------------------------------------------------------
    def on_tick(self) -> None:
        now_s = self.now_s()
        self.last_tick_s = now_s
        self.tick_timer.reset()  # the timer ticks only when no state comes for TIMER_TICK_PERIODS
        if self.measured_arm is None:
            return  # nothing measured yet: nothing safe to command
        stale = stale_input(now_s, self.state_stamp_s, self.joint_state_received_s, self.p["stale_after_s"])
        if stale:
            return self.publish_hold(stale)
        if self.gripper_names and self.measured_gripper is None:
            return self.publish_hold("no gripper joint states")  # the policies observe the fingers too
        joints = np.concatenate([self.measured_arm, self.measured_gripper]) if self.gripper_names else self.measured_arm
        try:
            action = self.policy.act(self_model_observation(joints, *self.keypoints))
            targets = self.safety.command(action, self.measured_arm, self.measured_gripper, time.monotonic())
        except ActionRejected as error:
            self.drop(f"action: {error.reason}", str(error))
            return self.publish_hold("unusable action")
        except Exception as error:  # noqa: BLE001 - a policy that fails on an input must not stop the arm's node
            self.drop("action: policy error", repr(error))
            return self.publish_hold("policy error")
        self.publish(targets)
        published_s = self.now_s()
        latency_ms = (published_s - self.state_stamp_s) * 1e3
        self.latencies_ms.append(latency_ms)
        self.node_latencies_ms.append((published_s - self.state_received_s) * 1e3)
        self.latency_pub.publish(Float64(data=latency_ms))

    def publish_hold(self, reason: str) -> None:
        if not self.safety.holding:
            self.get_logger().warning(f"holding the measured position: {reason}", throttle_duration_sec=5.0)
        self.publish(self.safety.hold(self.measured_arm, self.measured_gripper, reason))

    def publish(self, targets: JointTargets) -> None:
        self.arm_pub.publish(Float64MultiArray(data=targets.arm.tolist()))
        if targets.gripper is not None:
            self.gripper_pub.publish(Float64MultiArray(data=targets.gripper.tolist()))

    def latency_summary_ms(self, latencies_ms: deque[float] | None = None) -> dict[str, float]:
        """Median, p90 and max of the kept image -> command latencies (or of `latencies_ms`), ms."""
        return latency_summary_ms(self.latencies_ms if latencies_ms is None else latencies_ms, decimals=2)

    def report(self) -> None:
        s = self.safety
        self.get_logger().info(
            f"{s.commands} commands, holds {dict(s.holds)}, dropped {dict(self.dropped)}; image -> command "
            f"latency ms {self.latency_summary_ms()}, of which state received -> command "
            f"{self.latency_summary_ms(self.node_latencies_ms)} (last {len(self.latencies_ms)}); peak speed "
            f"{s.peak_speed_ratio:.3f} of the velocity limits")

    def destroy_node(self) -> None:
        if self.started:
            self.report()  # the final counts, for whoever reads the log after the run
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args, model_errors=(PolicyLoadError,), model_name="the policy")


if __name__ == "__main__":
    main()
