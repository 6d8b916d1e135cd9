"""The one interface every policy offers (TD3, DDPG, active inference, random), so evaluation and
the policy node never care which one runs (stable-baselines3's `predict` / `save` / `load`).

An action is the env's `joint_delta` action (smrl_sim.core.env): n + 1 values in [-1, 1], joint i
moves by a_i * max_joint_delta_rad from its measured position, the last value opens (> 0) or
closes (<= 0) the gripper. What the policy observes is named by `observation_kind`:
"self_model" (smrl_policy.core.observation, from pixels) or "privileged" (baselines only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    observation_kind: str        # "self_model" or "privileged"
    max_joint_delta_rad: float   # the scale of one action, as in the env it was trained in

    def act(self, observation: np.ndarray) -> np.ndarray:
        """(observation size,) float32 -> (n + 1,) action in [-1, 1]; deterministic."""
        ...

    def save(self, path: Path | str) -> Path:
        ...
