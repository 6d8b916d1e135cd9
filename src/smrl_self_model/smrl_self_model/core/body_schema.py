"""The body schema: where the agent expects its own keypoints in the image, given its joints.

A small MLP from the joint positions q (n,) to the image positions of the self keypoints (K_self, 2),
learned from (q_t, c_t) pairs of the keypoints the contingency labeller called self. Joint angles
enter as sin q, cos q: bounded, and continuous across +-pi. Trained on a Huber loss, so frames in
which a keypoint detector jumped elsewhere pull the fit linearly, not quadratically. Its error
against the observed keypoints, in pixels, is the agent's "surprise" (SelfModelState).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smrl_self_model.core.ensemble_regression import EnsembleMLP, TrainingConfig, TrainingLog, train_ensemble
from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file
from smrl_self_model.core.pixel_distance import pixel_distance

FORMAT_NAME = "smrl_self_model.body_schema"
FORMAT_VERSION = 1


def joint_angle_features(joint_positions_rad: np.ndarray) -> np.ndarray:
    """(..., n) rad -> (..., 2n): sin q, cos q."""
    return np.concatenate([np.sin(joint_positions_rad), np.cos(joint_positions_rad)], axis=-1)


class BodySchema:
    def __init__(self, num_joints: int, self_keypoint_indices: list[int], hidden_sizes: tuple[int, ...] = (128, 128),
                 seed: int = 0) -> None:
        """`self_keypoint_indices`: which of the keypoint model's keypoints it predicts, in order."""
        self.num_joints = num_joints
        self.self_keypoint_indices = [int(i) for i in self_keypoint_indices]
        self.hidden_sizes = tuple(int(size) for size in hidden_sizes)
        self.network = EnsembleMLP(2 * num_joints, 2 * len(self.self_keypoint_indices), self.hidden_sizes,
                                   ensemble_size=1, seed=seed)

    def predict(self, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(n,) or (B, n) rad -> (K_self, 2) or (B, K_self, 2) normalised image positions."""
        joint_positions_rad = np.asarray(joint_positions_rad, dtype=np.float64)
        if joint_positions_rad.shape[-1] != self.num_joints:
            raise ValueError(f"expected {self.num_joints} joint positions, got shape {joint_positions_rad.shape}")
        features = torch.as_tensor(joint_angle_features(np.atleast_2d(joint_positions_rad)), dtype=torch.float32)
        with torch.no_grad():
            outputs = self.network(features)[0].numpy()
        positions = outputs.reshape(len(outputs), -1, 2)
        return positions[0] if joint_positions_rad.ndim == 1 else positions

    def prediction_error_px(self, joint_positions_rad: np.ndarray, observed_self_keypoints: np.ndarray,
                            image_size_px: tuple[int, int]) -> float:
        """Mean distance in pixels, predicted vs observed: joints (T, n), keypoints (T, K_self, 2)."""
        return float(pixel_distance(self.predict(joint_positions_rad), observed_self_keypoints, image_size_px).mean())

    def save(self, path: Path | str) -> Path:
        metadata = {"num_joints": self.num_joints, "self_keypoint_indices": self.self_keypoint_indices,
                    "hidden_sizes": list(self.hidden_sizes)}
        return save_model_file(path, FORMAT_NAME, FORMAT_VERSION, metadata, self.network.state_dict())

    @classmethod
    def load(cls, path: Path | str) -> "BodySchema":
        metadata, state_dict = load_model_file(path, FORMAT_NAME, FORMAT_VERSION)
        try:
            schema = cls(metadata["num_joints"], metadata["self_keypoint_indices"], tuple(metadata["hidden_sizes"]))
            schema.network.load_state_dict(state_dict)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(path, f"weights or metadata do not fit a body schema ({error})") from None
        schema.network.eval()
        return schema


def train_body_schema(joint_positions_rad: np.ndarray, self_keypoints: np.ndarray, self_keypoint_indices: list[int],
                      hidden_sizes: tuple[int, ...] = (128, 128),
                      config: TrainingConfig | None = None) -> tuple[BodySchema, TrainingLog]:
    """Fit a body schema to joints (T, n) rad and the self keypoints seen at the same frames (T, K_self, 2)."""
    config = config or TrainingConfig()
    joint_positions_rad = np.asarray(joint_positions_rad, dtype=np.float64)
    self_keypoints = np.asarray(self_keypoints, dtype=np.float64)
    if self_keypoints.shape[1:] != (len(self_keypoint_indices), 2) or len(self_keypoints) != len(joint_positions_rad):
        raise ValueError(f"expected self keypoints ({len(joint_positions_rad)}, {len(self_keypoint_indices)}, 2), "
                         f"got {self_keypoints.shape}")
    schema = BodySchema(joint_positions_rad.shape[1], self_keypoint_indices, hidden_sizes, seed=config.seed)
    log = train_ensemble(schema.network, joint_angle_features(joint_positions_rad),
                         self_keypoints.reshape(len(self_keypoints), -1), config)
    return schema, log
