"""The original project's scripted grasp as a gymnasium wrapper: the policy places the hand, a macro picks.

Why: TD3 from the dense pick reward learns to grasp but not to lift (0/100: holding the cube on the
table pays almost as well). The original SMRL moved the hand in x, y and yaw and left descent and
grasp to a script; here the policy moves the end effector (SmrlEnv's `ee_delta` actions: dx, dy,
dz, d-yaw, gripper) and when it commands "close" (gripper value <= 0) the macro runs within that one
policy step, as ordinary `ee_delta` env steps (0.1 s each, counted in the episode's step budget):

    descend   straight down, gripper open, until the grasp point is `grasp_height_m` above the table
    close     `close_steps` steps with the fingers closing, the hand still
    lift      straight up, fingers closed, by `lift_m` (or until the episode ends)

The macro knows only the robot itself: the end effector's height from the measured joints through
the arm's forward kinematics, and the table's height from the robot's mount (it stands on the
table top). It never reads the object's pose, so the same wrapper serves policies that see the
world through pixels (the self_model observation) as well as privileged ones.

The wrapper's step returns the last env step's observation, the sum of the env steps' rewards, and
the env's own `terminated` / `truncated` / `info` (success stays the env's `is_success`);
`info["env_steps"]` says how many env steps the policy step took.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from smrl_sim.core.env import SmrlEnv

HEIGHT_TOLERANCE_M = 0.005   # how close above the grasp height the descent stops
EXTRA_DESCENT_STEPS = 4


class ScriptedGrasp(gym.Wrapper):
    """Closing the gripper runs descend, close, lift on an `ee_delta` SmrlEnv (see the module doc)."""

    def __init__(self, env: gym.Env, grasp_height_m: float = 0.025, close_steps: int = 2, lift_m: float = 0.10) -> None:
        super().__init__(env)
        raw: SmrlEnv = env.unwrapped
        if raw.action_mode != "ee_delta":
            raise ValueError(f"the scripted grasp moves the hand in ee_delta actions; the env's are {raw.action_mode!r}")
        self.robot = raw.world.robot
        self.table_height_m = float(self.robot.config.base_position[2])   # the arm stands on the table top
        self.grasp_height_m = grasp_height_m
        self.close_steps = close_steps
        self.lift_m = lift_m
        self.ee_step_m = raw.ee_step_m

    def hand_height_m(self) -> float:
        """The grasp point's height above the table (m), by forward kinematics of the measured joints."""
        position, _ = self.robot.end_effector_pose()
        return float(position[2]) - self.table_height_m

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action[-1] > 0.0:
            observation, reward, terminated, truncated, info = self.env.step(action)
            return observation, reward, terminated, truncated, {**info, "env_steps": 1}
        return self._grasp()

    def _grasp(self):
        total, steps = 0.0, 0
        for dz, gripper in self._macro_moves():
            observation, reward, terminated, truncated, info = self.env.step(np.array([0, 0, dz, 0, gripper], np.float32))
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        return observation, total, terminated, truncated, {**info, "env_steps": steps}

    def _macro_moves(self):
        """(dz action, gripper action) per env step. The descent goes on until the measured grasp
        point is within `HEIGHT_TOLERANCE_M` of the grasp height, for at most a few steps more
        than the drop needs at full speed (the arm slows down near the target)."""
        drop_m = self.hand_height_m() - self.grasp_height_m
        for _ in range(math.ceil(max(drop_m, 0.0) / self.ee_step_m) + EXTRA_DESCENT_STEPS):
            drop_m = self.hand_height_m() - self.grasp_height_m
            if drop_m <= HEIGHT_TOLERANCE_M:
                break
            yield -min(drop_m / self.ee_step_m, 1.0), 1.0
        for _ in range(self.close_steps):
            yield 0.0, -1.0
        for _ in range(math.ceil(self.lift_m / self.ee_step_m)):
            yield 1.0, -1.0
