"""A trained policy as a motion source for data collection (`./smrl collect --policy FILE`).

Same interface as smrl_sim's MotorBabbling (`next_targets()` once per frame): the collection loop
records the frame, then commands what this returns. The policy acts as in SmrlEnv's `joint_delta`
mode: joint i moves by a_i * max_joint_delta_rad from where it is measured; the last value opens
(> 0) or closes (<= 0) the gripper. Only privileged policies (the "experts") can drive it: they
read the simulator's true poses, which a collection has at hand.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from smrl_policy.core.environments import privileged_observation
from smrl_policy.core.policy import load_policy


class PolicyMotion:
    def __init__(self, world, policy_file: Path | str) -> None:
        import torch
        torch.set_num_threads(1)  # one collection worker per core
        self.world = world
        self.policy = load_policy(policy_file)
        if self.policy.observation_kind != "privileged":
            raise ValueError(f"{policy_file}: a {self.policy.observation_kind!r} policy; collection drives the "
                             f"arm with privileged (expert) policies only")
        if getattr(self.policy, "metadata", {}).get("scripted_grasp"):
            raise ValueError(f"{policy_file}: trained with the scripted grasp (dx, dy, d-yaw actions); "
                             f"collection drives the arm in joint_delta actions only")

    def next_targets(self) -> np.ndarray:
        """Joint targets (rad) for the next frame; sets the gripper as the policy says."""
        robot = self.world.robot
        arm, _ = robot.arm_state()
        gripper, _ = robot.gripper_state()
        ee, _ = robot.end_effector_pose()
        observation = privileged_observation(np.concatenate([arm, gripper]), ee, self.world.object_position())
        action = np.clip(self.policy.act(observation), -1.0, 1.0)
        robot.set_gripper_closed(bool(action[-1] <= 0.0))
        return robot.arm_limits.clamp(arm + action[:-1] * self.policy.max_joint_delta_rad)
