"""Random exploration of the agent's own body: the data a self model and keypoints learn from.

`MotorBabbling` sends random joint targets around the home pose, held for a random time, so every
joint moves through a wide range (what contingency detection needs). `PushingBabbling` mixes in
sweeps of the end effector through the object, so the object moves because the arm pushed it: the
trap in which contact must not make the object "self".
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from smrl_sim.core.joint_command_guard import JointLimits

if TYPE_CHECKING:  # the scripted motion node uses random_joint_targets without a simulator
    from smrl_sim.core.scene import SimWorld

MAX_HALF_RANGE_RAD = 1.2


def random_joint_targets(home_rad: np.ndarray, limits: JointLimits, spread: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Uniform joint targets around home, over `spread` of each joint's range (at most
    +-MAX_HALF_RANGE_RAD), within the position limits."""
    half_range = np.minimum(spread * (limits.upper - limits.lower) / 2.0, MAX_HALF_RANGE_RAD)
    return limits.clamp(home_rad + rng.uniform(-1.0, 1.0, home_rad.shape) * half_range)


class MotorBabbling:
    """Targets for one control step at a time; each is held for `hold_s` (uniform [min, max]
    seconds), so the motion is the same at any control period (the recorded 10 Hz or a 30 Hz camera)."""

    def __init__(self, world: SimWorld, rng: np.random.Generator, control_period_s: float = 0.1,
                 spread: float = 0.35, hold_s: tuple[float, float] = (0.3, 1.0)) -> None:
        self.world = world
        self.rng = rng
        self.control_period_s = control_period_s
        self.spread = spread
        self.hold_steps = self.steps(hold_s[0]), self.steps(hold_s[1])
        self._targets = np.array(world.robot.config.home_positions)
        self._steps_left = 0

    def steps(self, duration_s: float) -> int:
        """Control steps in `duration_s`, at least one."""
        return max(1, round(duration_s / self.control_period_s))

    def random_joint_targets(self) -> np.ndarray:
        robot = self.world.robot
        return random_joint_targets(np.array(robot.config.home_positions), robot.arm_limits, self.spread, self.rng)

    def next_targets(self) -> np.ndarray:
        """The joint targets (rad) to command for the next frame."""
        if self._steps_left <= 0:
            self._targets = self.random_joint_targets()
            self._steps_left = int(self.rng.integers(*self.hold_steps, endpoint=True))
        self._steps_left -= 1
        return self._targets


class PushingBabbling(MotorBabbling):
    """Babbling in which about half the segments sweep the gripper through the object."""

    def __init__(self, world: SimWorld, rng: np.random.Generator, push_probability: float = 0.5,
                 waypoint_hold_s: float = 0.6, **kwargs) -> None:
        super().__init__(world, rng, **kwargs)
        self.push_probability = push_probability
        self.waypoint_hold_steps = self.steps(waypoint_hold_s)
        self._waypoints: list[np.ndarray] = []

    def _push_waypoints(self) -> list[np.ndarray]:
        robot, world = self.world.robot, self.world
        obj = world.object_position()
        angle = self.rng.uniform(-np.pi, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle), 0.0])
        height = np.array([0.0, 0.0, world.object_rest_z_m + 0.01 - obj[2]])
        down = np.array(world.client.getQuaternionFromEuler([np.pi, 0.0, angle]))
        points = [obj + 0.12 * direction + height + [0, 0, 0.08], obj + 0.12 * direction + height,
                  obj - 0.12 * direction + height]
        return [robot.inverse_kinematics(p, down) for p in points]

    def next_targets(self) -> np.ndarray:
        if self._steps_left <= 0 and not self._waypoints and self.rng.random() < self.push_probability:
            self._waypoints = self._push_waypoints()
        if self._steps_left <= 0 and self._waypoints:
            self._targets = self._waypoints.pop(0)
            self._steps_left = self.waypoint_hold_steps
        if self._steps_left > 0:
            self._steps_left -= 1
            return self._targets
        return super().next_targets()
