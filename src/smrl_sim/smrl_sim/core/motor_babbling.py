"""Random exploration of the agent's own body: the data a self model and keypoints learn from.

`MotorBabbling` sends random joint targets around the home pose, held for a random time, so every
joint moves through a wide range (what contingency detection needs). `PushingBabbling` mixes in
sweeps of the end effector through the object, so the object moves because the arm pushed it: the
trap in which contact must not make the object "self". `CarryingBabbling` grasps the object and
babbles with it in the hand: the object then moves with the arm for as long as it is held.
`RestingArm` holds one pose, for data in which only the world moves.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from smrl_common.core.joint_command_guard import JointLimits

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


class RestingArm(MotorBabbling):
    """No babbling: one random pose, reached and held for the whole episode, so in these episodes
    only the world moves (e.g. the object when someone re-places it)."""

    def next_targets(self) -> np.ndarray:
        if self._steps_left == 0:
            self._targets = self.random_joint_targets()
            self._steps_left = -1
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


class CarryingBabbling(MotorBabbling):
    """Grasp the object from above, then babble with it held: end-effector targets at random
    points above the table. The carried object moves exactly as the hand does (the tool-embodiment
    case for a self model). A grasp that fails or drops the object is simply tried again."""

    def __init__(self, world: SimWorld, rng: np.random.Generator, carry_hold_s: tuple[float, float] = (0.5, 1.0),
                 carry_height_m: tuple[float, float] = (0.08, 0.25), **kwargs) -> None:
        super().__init__(world, rng, **kwargs)
        self.carry_hold_s = carry_hold_s
        self.carry_height_m = carry_height_m
        self._plan: list[tuple[np.ndarray, bool, int]] = []   # (arm targets, gripper closed, steps)
        self._closed = False

    def _down(self, yaw: float) -> np.ndarray:
        return np.array(self.world.client.getQuaternionFromEuler([np.pi, 0.0, yaw]))

    def _grasp_plan(self) -> list[tuple[np.ndarray, bool, int]]:
        world = self.world
        robot, obj = world.robot, world.object_position()
        object_yaw = world.client.getEulerFromQuaternion(world.client.getBasePositionAndOrientation(world.object_id)[1])[2]
        down = self._down((object_yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)   # fingers square to the cube
        above, at = obj + [0.0, 0.0, 0.10], obj.copy()
        return [(robot.inverse_kinematics(above, down), False, self.steps(1.0)),
                (robot.inverse_kinematics(at, down), False, self.steps(0.8)),
                (robot.inverse_kinematics(at, down), True, self.steps(0.5)),
                (robot.inverse_kinematics(above, down), True, self.steps(0.6))]

    def _carry_step(self) -> tuple[np.ndarray, bool, int]:
        world = self.world
        spawn = world.config.object
        point = np.array([self.rng.uniform(*spawn.spawn_x), self.rng.uniform(*spawn.spawn_y),
                          world.object_rest_z_m + self.rng.uniform(*self.carry_height_m)])
        down = self._down(self.rng.uniform(-np.pi / 4, np.pi / 4))
        hold = int(self.rng.integers(self.steps(self.carry_hold_s[0]), self.steps(self.carry_hold_s[1]), endpoint=True))
        return world.robot.inverse_kinematics(point, down), True, hold

    def is_carrying(self) -> bool:
        """The gripper is closed and the object is off the table."""
        return self._closed and self.world.object_lift_m() > 0.02

    def next_targets(self) -> np.ndarray:
        if self._steps_left <= 0:
            if not self._plan:
                self._plan = [self._carry_step()] if self.is_carrying() else self._grasp_plan()
            self._targets, self._closed, self._steps_left = self._plan.pop(0)
            self.world.robot.set_gripper_closed(self._closed)
        self._steps_left -= 1
        return self._targets
