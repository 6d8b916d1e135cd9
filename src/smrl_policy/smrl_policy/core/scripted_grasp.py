"""The original project's automatic descent and scripted grasp, as a gymnasium wrapper: the policy
steers the hand in x, y and yaw, the script takes it down, closes the fingers and lifts.

Why: TD3 from the dense pick reward learns to grasp but not to lift (0/100: holding the cube on the
table pays almost as well), and leaving the moment of closing to the policy (its gripper value
starting the grasp) did not train either: 0 of 20 periodic episodes up to 13 500 steps, the actor
learned to keep the gripper open. The original SMRL had the policy move the hand in dx, dy, d-yaw
while it descended by itself, and grasped by script once the hand was low. Here:

    action    (dx, dy, d-yaw) in [-1, 1], SmrlEnv's `ee_delta` scales (ee_step_m, ee_yaw_step_rad)
    descend   every policy step is one `ee_delta` env step that also moves the hand down by up to
              ee_step_m, gripper open, towards `grasp_height_m` above the table
    grasp     once the grasp point is there (or the descent stalls: the fingers are on something),
              the same policy step goes on with `close_steps` env steps closing the fingers, then
              lifts straight up by `lift_m`; if the object is not picked, the hand descends again

The script knows only the robot itself: the grasp point's height from the measured joints through
the arm's forward kinematics, and the table's height from the robot's mount (it stands on the
table top). It never reads the object's pose, so the same wrapper serves policies that see the
world through pixels (the self_model observation) as well as privileged ones.

Every env step is a 0.1 s step of the env, counted in its episode budget (`max_episode_steps`). A
policy step returns the last env step's observation, the sum of its env steps' rewards and the
env's own `terminated` / `truncated` / `info` (success stays the env's `is_success`), with
`info["env_steps"]`: how many env steps it took.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from smrl_sim.core.env import SmrlEnv

HEIGHT_TOLERANCE_M = 0.005   # the descent is done this close above the grasp height
STALL_M = 0.002              # a descent step that goes down less than this has hit something


class ScriptedGrasp(gym.Wrapper):
    """Automatic descent, then close and lift, on an `ee_delta` SmrlEnv (see the module doc)."""

    def __init__(self, env: gym.Env, grasp_height_m: float = 0.025, close_steps: int = 2, lift_m: float = 0.10) -> None:
        super().__init__(env)
        raw: SmrlEnv = env.unwrapped
        if raw.action_mode != "ee_delta":
            raise ValueError(f"the scripted grasp moves the hand in ee_delta actions; the env's are {raw.action_mode!r}")
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)   # dx, dy, d-yaw
        self.robot = raw.world.robot
        self.table_height_m = float(self.robot.config.base_position[2])   # the arm stands on the table top
        self.grasp_height_m = grasp_height_m
        self.close_steps = close_steps
        self.lift_steps = int(np.ceil(lift_m / raw.ee_step_m))
        self.ee_step_m = raw.ee_step_m

    def hand_height_m(self) -> float:
        """The grasp point's height above the table (m), by forward kinematics of the measured joints."""
        position, _ = self.robot.end_effector_pose()
        return float(position[2]) - self.table_height_m

    def step(self, action):
        dx, dy, d_yaw = np.clip(np.asarray(action, dtype=np.float32).reshape(3), -1.0, 1.0)
        before_m = self.hand_height_m()
        drop = min((before_m - self.grasp_height_m) / self.ee_step_m, 1.0)
        observation, total, terminated, truncated, info = self.env.step(np.array([dx, dy, -drop, d_yaw, 1.0], np.float32))
        steps, total = 1, float(total)
        hand_m = self.hand_height_m()
        at_grasp_height = hand_m - self.grasp_height_m <= HEIGHT_TOLERANCE_M
        stalled = drop > 0 and before_m - hand_m < STALL_M
        if (at_grasp_height or stalled) and not (terminated or truncated):
            grasp = [(0.0, -1.0)] * self.close_steps + [(1.0, -1.0)] * self.lift_steps   # (dz, gripper)
            for dz, gripper in grasp:
                observation, reward, terminated, truncated, info = self.env.step(np.array([0, 0, dz, 0, gripper], np.float32))
                total += float(reward)
                steps += 1
                if terminated or truncated:
                    break
        return observation, total, terminated, truncated, {**info, "env_steps": steps}
