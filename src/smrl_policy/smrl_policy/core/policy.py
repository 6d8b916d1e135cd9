"""The one interface every policy offers (TD3, DDPG, active inference, random), so evaluation and
the policy node never care which one runs (stable-baselines3's `predict` / `save` / `load`).

An action is the env's `joint_delta` action (smrl_sim.core.env): n + 1 values in [-1, 1], joint i
moves by a_i * max_joint_delta_rad from its measured position, the last value opens (> 0) or
closes (<= 0) the gripper. A policy whose metadata says `scripted_grasp` acts instead in dx, dy,
d-yaw of the hand while a script descends, closes and lifts (smrl_policy.core.scripted_grasp);
evaluation applies it from the file. What the policy observes is named by `observation_kind`:
"self_model" (smrl_policy.core.observation, from pixels), "privileged" (baselines only) or "blind"
(joint positions only: a control, smrl_policy.core.environments).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    observation_kind: str        # "self_model", "privileged" or "blind"
    max_joint_delta_rad: float   # the scale of one action, as in the env it was trained in

    def act(self, observation: np.ndarray) -> np.ndarray:
        """(observation size,) float32 -> (n + 1,) action in [-1, 1]; deterministic."""
        ...

    def save(self, path: Path | str) -> Path:
        ...


#: Policy file formats and the class that opens each ("module:Class" with a `load(path)` classmethod),
#: imported only when a file of that format is opened. A new algorithm adds its line here.
POLICY_FORMATS = {
    "smrl_policy.td3": "smrl_policy.core.td3:TD3Policy",
    "smrl_policy.active_inference": "smrl_policy.core.active_inference:ActiveInferenceAgent",
}


def policy_file_format(path: Path | str) -> str:
    """The format name written in a policy file; raises ModelFileError for missing or unreadable files."""
    from smrl_self_model.core.model_file import read_model_file

    return read_model_file(path)["format"]


def load_policy(path: Path | str) -> Policy:
    """Open any policy file by the format name it holds (POLICY_FORMATS)."""
    import importlib

    from smrl_self_model.core.model_file import ModelFileError

    format_name = policy_file_format(path)
    if format_name not in POLICY_FORMATS:
        raise ModelFileError(path, f"format {format_name!r} is not a policy format (known: {sorted(POLICY_FORMATS)})")
    module_name, class_name = POLICY_FORMATS[format_name].split(":")
    return getattr(importlib.import_module(module_name), class_name).load(path)


class RandomPolicy:
    """Uniform random actions: the floor every policy is compared with (seeded; not deterministic)."""

    def __init__(self, action_size: int, observation_kind: str = "privileged", max_joint_delta_rad: float = 0.15,
                 seed: int = 0) -> None:
        self.action_size = action_size
        self.observation_kind = observation_kind
        self.max_joint_delta_rad = max_joint_delta_rad
        self.rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, self.action_size).astype(np.float32)

    def save(self, path: Path | str) -> Path:
        raise NotImplementedError("a random policy has nothing to save")
