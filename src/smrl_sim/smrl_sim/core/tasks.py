"""Touch and pick: what counts as success and how rewards are shaped (panda-gym's task split).

Both are stricter than the original project (which rewarded being within ~0.3 m): touch needs real
contact between the arm and the object; pick needs the object held and lifted at least 5 cm.
Dense rewards are the negative end-effector-to-object distance (m) plus task progress; sparse
rewards are 1 on success and 0 otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smrl_sim.core.scene import SimWorld


@dataclass(frozen=True)
class TaskStatus:
    reward_dense: float
    reward_sparse: float
    is_success: bool
    distance_m: float       # end effector to object centre
    in_contact: bool        # any link of the agent's arm touches the object
    lift_m: float           # object height above its resting height


class Task:
    name = "task"

    def status(self, world: SimWorld) -> TaskStatus:
        ee, _ = world.robot.end_effector_pose()
        distance = float(np.linalg.norm(world.object_position() - ee))
        contacts = world.contact_links()
        lift = world.object_lift_m()
        success = self.is_success(world, contacts, lift)
        return TaskStatus(
            reward_dense=-distance + self.progress_bonus(contacts, lift, world) + (1.0 if success else 0.0),
            reward_sparse=1.0 if success else 0.0,
            is_success=success,
            distance_m=distance,
            in_contact=bool(contacts),
            lift_m=lift,
        )

    def is_success(self, world: SimWorld, contacts: set[int], lift_m: float) -> bool:
        raise NotImplementedError

    def progress_bonus(self, contacts: set[int], lift_m: float, world: SimWorld) -> float:
        return 0.0


class TouchTask(Task):
    """Success: any link of the arm, gripper included, is in contact with the object."""

    name = "touch"

    def is_success(self, world: SimWorld, contacts: set[int], lift_m: float) -> bool:
        return bool(contacts)


class PickTask(Task):
    """Success: both gripper fingers touch the object and it is at least `lift_threshold_m` up."""

    name = "pick"

    def __init__(self, lift_threshold_m: float = 0.05) -> None:
        self.lift_threshold_m = lift_threshold_m

    def is_success(self, world: SimWorld, contacts: set[int], lift_m: float) -> bool:
        return world.object_grasped(contacts) and lift_m >= self.lift_threshold_m

    def progress_bonus(self, contacts: set[int], lift_m: float, world: SimWorld) -> float:
        """Up to +0.5 for a grasp, then up to +0.5 more for lifting towards the threshold."""
        if not world.object_grasped(contacts):
            return 0.0
        return 0.5 + 0.5 * min(max(lift_m, 0.0) / self.lift_threshold_m, 1.0)


TASKS = {"touch": TouchTask, "pick": PickTask}


def make_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]()
