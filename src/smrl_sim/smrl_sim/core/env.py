"""The gymnasium environment: robot + task + scene composed (panda-gym style), pixels + joints in.

Observation: `rgb` (H, W, 3) uint8 and `joint_positions` (n arm + g gripper joints). The object's
and end effector's true poses are privileged: they are only in `info`, for baselines and evaluation.

Action modes (every one ends in joint position targets clamped to limits, driven at most at the
joint velocity limits):
- `joint_delta`: n + 1 values in [-1, 1]; joint i moves by a_i * max_joint_delta_rad from where it
  is measured now; the last value opens (> 0) or closes (<= 0) the gripper.
- `joint_position`: n absolute targets (rad) + the gripper value.
- `ee_delta`: dx, dy, dz (each * ee_step_m), d-yaw (* ee_yaw_step_rad) of the end effector, which
  points down, then the gripper value; inverse kinematics gives the joint targets.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from smrl_sim.core.scene import SimWorld, load_scene_config
from smrl_sim.core.tasks import make_task

ACTION_MODES = ("joint_delta", "joint_position", "ee_delta")


class SmrlEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: str = "touch",
        scene: str = "default",
        reward_type: str = "dense",
        action_mode: str = "joint_delta",
        max_episode_steps: int = 50,
        control_period_s: float = 0.1,
        max_joint_delta_rad: float = 0.15,
        ee_step_m: float = 0.03,
        ee_yaw_step_rad: float = 0.2,
        segmentation_in_info: bool = False,
        render_mode: str | None = "rgb_array",
        **scene_overrides: Any,
    ) -> None:
        if action_mode not in ACTION_MODES:
            raise ValueError(f"unknown action_mode {action_mode!r}; known: {ACTION_MODES}")
        if reward_type not in ("dense", "sparse"):
            raise ValueError("reward_type must be 'dense' or 'sparse'")
        self.world = SimWorld(load_scene_config(scene, **scene_overrides))
        self.task = make_task(task)
        self.reward_type = reward_type
        self.action_mode = action_mode
        self.max_episode_steps = max_episode_steps
        self.substeps = max(1, round(control_period_s / self.world.config.time_step_s))
        self.max_joint_delta_rad = max_joint_delta_rad
        self.ee_step_m = ee_step_m
        self.ee_yaw_step_rad = ee_yaw_step_rad
        self.segmentation_in_info = segmentation_in_info
        self.render_mode = render_mode
        robot = self.world.robot
        n = robot.config.num_joints
        cam = self.world.config.camera
        # Measured positions overshoot the limits slightly under load: the bounds allow for it.
        margin = 0.05
        lower = np.concatenate([robot.arm_limits.lower, robot.gripper_limits.lower]).astype(np.float32) - margin
        upper = np.concatenate([robot.arm_limits.upper, robot.gripper_limits.upper]).astype(np.float32) + margin
        self.observation_space = gym.spaces.Dict({
            "rgb": gym.spaces.Box(0, 255, (cam.height, cam.width, 3), np.uint8),
            "joint_positions": gym.spaces.Box(lower, upper, dtype=np.float32),
        })
        if action_mode == "joint_position":
            self.action_space = gym.spaces.Box(
                np.append(robot.arm_limits.lower, -1.0).astype(np.float32),
                np.append(robot.arm_limits.upper, 1.0).astype(np.float32),
            )
        else:
            size = n + 1 if action_mode == "joint_delta" else 5
            self.action_space = gym.spaces.Box(-1.0, 1.0, (size,), np.float32)
        self._steps = 0
        self._ee_yaw_rad = 0.0

    # --- gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.world.reset(self.np_random)
        self._steps = 0
        self._ee_yaw_rad = 0.0
        status = self.task.status(self.world)
        return self._observation(), self._info(status)

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN or inf: {action}")
        action = np.clip(action, self.action_space.low, self.action_space.high)
        robot = self.world.robot
        arm_targets = self._arm_targets(action)
        robot.set_targets(arm_targets)
        robot.set_gripper_closed(action[-1] <= 0.0)
        self.world.step(self.substeps)
        self._steps += 1
        status = self.task.status(self.world)
        reward = status.reward_dense if self.reward_type == "dense" else status.reward_sparse
        terminated = status.is_success
        truncated = self._steps >= self.max_episode_steps and not terminated
        return self._observation(), float(reward), terminated, truncated, self._info(status)

    def render(self) -> np.ndarray:
        return self.world.render()[0]

    def close(self) -> None:
        self.world.close()

    # --- internals ---------------------------------------------------------------------------
    def _arm_targets(self, action: np.ndarray) -> np.ndarray:
        robot = self.world.robot
        if self.action_mode == "joint_position":
            return action[:-1]
        if self.action_mode == "joint_delta":
            measured, _ = robot.arm_state()
            return measured + action[:-1] * self.max_joint_delta_rad
        position, _ = robot.end_effector_pose()
        self._ee_yaw_rad += float(action[3]) * self.ee_yaw_step_rad
        target = position + action[:3] * self.ee_step_m
        target[2] = max(target[2], self.world.object_rest_z_m - 0.02)  # never push into the table
        pointing_down = self.world.client.getQuaternionFromEuler([np.pi, 0.0, self._ee_yaw_rad])
        return robot.inverse_kinematics(target, np.array(pointing_down))

    def _observation(self) -> dict[str, np.ndarray]:
        rgb, _ = self.world.render()
        arm, _ = self.world.robot.arm_state()
        gripper, _ = self.world.robot.gripper_state()
        return {"rgb": rgb, "joint_positions": np.concatenate([arm, gripper]).astype(np.float32)}

    def _info(self, status) -> dict[str, Any]:
        ee, _ = self.world.robot.end_effector_pose()
        info = {
            "is_success": status.is_success,
            "distance_m": status.distance_m,
            "in_contact": status.in_contact,
            "lift_m": status.lift_m,
            "ee_position": ee.astype(np.float32),
            "object_position": self.world.object_position().astype(np.float32),
        }
        if self.segmentation_in_info:
            info["segmentation"] = self.world.render(segmentation=True)[1]
        return info


def make_vector_env(num_envs: int, asynchronous: bool = True, **env_kwargs: Any) -> gym.vector.VectorEnv:
    """Several copies in parallel; `asynchronous` runs each in its own process (rendering is CPU-bound)."""
    factories = [lambda: SmrlEnv(**env_kwargs) for _ in range(num_envs)]
    return gym.vector.AsyncVectorEnv(factories) if asynchronous else gym.vector.SyncVectorEnv(factories)


gym.register("SmrlTouch-v0", entry_point=SmrlEnv, kwargs={"task": "touch"})
gym.register("SmrlPick-v0", entry_point=SmrlEnv, kwargs={"task": "pick"})
