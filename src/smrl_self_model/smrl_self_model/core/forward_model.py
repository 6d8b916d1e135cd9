"""The forward model: the agent's next self state, given its self state and a joint command.

Self state = the self keypoints' image positions (K_self, 2) and the joint positions (n,) rad;
action = the commanded joint change u_t - q_t (rad), where u_t is the joint target sent at frame t.
An ensemble of small MLPs (`ensemble_size`, default 5) predicts the changes of both from t to t + 1,
so a policy can roll it out over several steps; where the members disagree the model has seen
too little, which is what an active-inference agent explores for (information gain).
Inputs: keypoints, sin q, cos q, command; outputs: keypoint change (K_self x 2), joint change (n).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from smrl_self_model.core.body_schema import checked_keypoint_indices, joint_angle_features
from smrl_self_model.core.ensemble_regression import EnsembleMLP, TrainingConfig, TrainingLog, train_ensemble
from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file
from smrl_self_model.core.pixel_distance import pixel_distance

FORMAT_NAME = "smrl_self_model.forward_model"
FORMAT_VERSION = 1


@dataclass
class Transitions:
    """N transitions t -> t + 1 of the self state under a command, in frame order."""
    self_keypoints: np.ndarray             # (N, K_self, 2) normalised, at t
    joint_positions_rad: np.ndarray        # (N, n) at t
    joint_command_change_rad: np.ndarray   # (N, n) u_t - q_t
    next_self_keypoints: np.ndarray        # (N, K_self, 2) at t + 1
    next_joint_positions_rad: np.ndarray   # (N, n) at t + 1

    @classmethod
    def from_episode(cls, self_keypoints: np.ndarray, joint_positions_rad: np.ndarray,
                     joint_targets_rad: np.ndarray) -> "Transitions":
        """From one episode's self keypoints (T, K_self, 2), joints (T, n) and targets (T, n)."""
        return cls(self_keypoints=self_keypoints[:-1], joint_positions_rad=joint_positions_rad[:-1],
                   joint_command_change_rad=joint_targets_rad[:-1] - joint_positions_rad[:-1],
                   next_self_keypoints=self_keypoints[1:], next_joint_positions_rad=joint_positions_rad[1:])

    @classmethod
    def concatenate(cls, parts: list["Transitions"]) -> "Transitions":
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__dataclass_fields__))


def state_action_features(self_keypoints: np.ndarray, joint_positions_rad: np.ndarray,
                          joint_command_change_rad: np.ndarray) -> np.ndarray:
    """(B, K_self, 2), (B, n), (B, n) -> (B, 2 K_self + 3n): keypoints, sin q, cos q, command."""
    return np.concatenate([np.reshape(self_keypoints, (len(self_keypoints), -1)),
                           joint_angle_features(joint_positions_rad), joint_command_change_rad], axis=-1)


class ForwardModel:
    def __init__(self, joint_names: Sequence[str], num_keypoints: int, self_keypoint_indices: Sequence[int],
                 hidden_sizes: tuple[int, ...] = (128, 128), ensemble_size: int = 5, seed: int = 0,
                 keypoint_model_sha256: str = "") -> None:
        """The self state: the named joints and `self_keypoint_indices` (in that order) of the keypoint
        model's `num_keypoints`, whose file's SHA-256 is recorded (empty: not recorded)."""
        self.keypoint_model_sha256 = keypoint_model_sha256
        self.joint_names = [str(name) for name in joint_names]
        self.num_keypoints = int(num_keypoints)
        self.self_keypoint_indices = checked_keypoint_indices(self_keypoint_indices, self.num_keypoints)
        self.hidden_sizes = tuple(int(size) for size in hidden_sizes)
        num_coordinates = 2 * len(self.self_keypoint_indices)
        self.network = EnsembleMLP(num_coordinates + 3 * self.num_joints, num_coordinates + self.num_joints,
                                   self.hidden_sizes, ensemble_size, seed)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def ensemble_size(self) -> int:
        return self.network.ensemble_size

    def predict_members(self, self_keypoints: np.ndarray, joint_positions_rad: np.ndarray,
                        joint_command_change_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every member's next state: keypoints (B, K_self, 2), joints (B, n), command (B, n)
        -> next keypoints (M, B, K_self, 2), next joints (M, B, n)."""
        self_keypoints = np.asarray(self_keypoints, dtype=np.float64)
        joint_positions_rad = np.asarray(joint_positions_rad, dtype=np.float64)
        inputs = state_action_features(self_keypoints, joint_positions_rad, np.asarray(joint_command_change_rad))
        with torch.no_grad():
            changes = self.network(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
        num_coordinates = 2 * len(self.self_keypoint_indices)
        next_keypoints = self_keypoints + changes[..., :num_coordinates].reshape(*changes.shape[:2], -1, 2)
        return next_keypoints, joint_positions_rad + changes[..., num_coordinates:]

    def predict(self, self_keypoints: np.ndarray, joint_positions_rad: np.ndarray,
                joint_command_change_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's mean next state; batch (B, ...) or single ((K_self, 2), (n,), (n,)) inputs."""
        single = np.ndim(joint_positions_rad) == 1
        if single:
            self_keypoints, joint_positions_rad, joint_command_change_rad = (
                np.asarray(a)[None] for a in (self_keypoints, joint_positions_rad, joint_command_change_rad))
        next_keypoints, next_joints = (a.mean(axis=0) for a in self.predict_members(
            self_keypoints, joint_positions_rad, joint_command_change_rad))
        return (next_keypoints[0], next_joints[0]) if single else (next_keypoints, next_joints)

    def prediction_error_px(self, transitions: Transitions, image_size_px: tuple[int, int]) -> float:
        """Mean distance in pixels, predicted vs observed next self keypoints."""
        predicted, _ = self.predict(transitions.self_keypoints, transitions.joint_positions_rad,
                                    transitions.joint_command_change_rad)
        return float(pixel_distance(predicted, transitions.next_self_keypoints, image_size_px).mean())

    def save(self, path: Path | str) -> Path:
        metadata = {"joint_names": self.joint_names, "num_keypoints": self.num_keypoints,
                    "self_keypoint_indices": self.self_keypoint_indices, "hidden_sizes": list(self.hidden_sizes),
                    "ensemble_size": self.ensemble_size, "keypoint_model_sha256": self.keypoint_model_sha256}
        return save_model_file(path, FORMAT_NAME, FORMAT_VERSION, metadata, self.network.state_dict())

    @classmethod
    def load(cls, path: Path | str) -> "ForwardModel":
        metadata, state_dict = load_model_file(path, FORMAT_NAME, FORMAT_VERSION)
        try:
            model = cls(metadata["joint_names"], metadata["num_keypoints"], metadata["self_keypoint_indices"],
                        tuple(metadata["hidden_sizes"]), metadata["ensemble_size"],
                        keypoint_model_sha256=metadata["keypoint_model_sha256"])
            model.network.load_state_dict(state_dict)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(path, f"weights or metadata do not fit a forward model ({error})") from None
        model.network.eval()
        return model


def train_forward_model(transitions: Transitions, joint_names: Sequence[str], num_keypoints: int,
                        self_keypoint_indices: Sequence[int], hidden_sizes: tuple[int, ...] = (128, 128),
                        ensemble_size: int = 5, config: TrainingConfig | None = None,
                        keypoint_model_sha256: str = "") -> tuple[ForwardModel, TrainingLog]:
    """Fit a forward-model ensemble to transitions of the self state (of `self_keypoint_indices`,
    in that order, out of the keypoint model's `num_keypoints`)."""
    config = config or TrainingConfig()
    model = ForwardModel(joint_names, num_keypoints, self_keypoint_indices, hidden_sizes, ensemble_size,
                         config.seed, keypoint_model_sha256)
    if transitions.self_keypoints.shape[1] != len(model.self_keypoint_indices):
        raise ValueError(f"transitions of {transitions.self_keypoints.shape[1]} keypoints for "
                         f"{len(model.self_keypoint_indices)} self keypoint indices")
    inputs = state_action_features(transitions.self_keypoints, transitions.joint_positions_rad,
                                   transitions.joint_command_change_rad)
    changes = np.concatenate([
        (transitions.next_self_keypoints - transitions.self_keypoints).reshape(len(inputs), -1),
        transitions.next_joint_positions_rad - transitions.joint_positions_rad], axis=-1)
    log = train_ensemble(model.network, inputs, changes, config)
    return model, log
