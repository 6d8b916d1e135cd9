"""The body schema: where the agent expects its own keypoints in the image, given its joints.

A small MLP from the joint positions q (n,) to the image positions of the self keypoints (K_self, 2),
learned from (q_t, c_t) pairs of the keypoints the contingency labeller called self. Joint angles
enter as sin q, cos q: bounded, and continuous across +-pi. Trained on a Huber loss, so frames in
which a keypoint detector jumped elsewhere pull the fit linearly, not quadratically. Its error
against the observed keypoints, in pixels, is the agent's "surprise" (SelfModelState).
"""
from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from smrl_self_model.core.ensemble_regression import EnsembleMLP, TrainingConfig, TrainingLog, train_ensemble
from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file
from smrl_self_model.core.pixel_distance import pixel_distance

FORMAT_NAME = "smrl_self_model.body_schema"
FORMAT_VERSION = 1
#: The body schema shipped as package data (models/README.md says how it was made).
SHIPPED_MODEL = "body_schema.pt"


def joint_angle_features(joint_positions_rad: np.ndarray) -> np.ndarray:
    """(..., n) rad -> (..., 2n): sin q, cos q."""
    return np.concatenate([np.sin(joint_positions_rad), np.cos(joint_positions_rad)], axis=-1)


def checked_keypoint_indices(self_keypoint_indices: Sequence[int], num_keypoints: int) -> list[int]:
    """The indices as ints; ValueError unless they are distinct keypoints of a K = num_keypoints model."""
    indices = [int(i) for i in self_keypoint_indices]
    if len(set(indices)) != len(indices) or not all(0 <= i < num_keypoints for i in indices):
        raise ValueError(f"self keypoint indices {indices} are not distinct keypoints of {num_keypoints}")
    return indices


class BodySchema:
    def __init__(self, joint_names: Sequence[str], num_keypoints: int, self_keypoint_indices: Sequence[int],
                 hidden_sizes: tuple[int, ...] = (128, 128), seed: int = 0, keypoint_model_sha256: str = "") -> None:
        """Takes the named joints' positions; predicts `self_keypoint_indices` (in that order) of the
        keypoint model's `num_keypoints`. Both are kept in the file, so a node can check its inputs;
        so is the SHA-256 of the keypoint model file it was trained with (empty: not recorded)."""
        self.keypoint_model_sha256 = keypoint_model_sha256
        self.joint_names = [str(name) for name in joint_names]
        self.num_keypoints = int(num_keypoints)
        self.self_keypoint_indices = checked_keypoint_indices(self_keypoint_indices, self.num_keypoints)
        self.hidden_sizes = tuple(int(size) for size in hidden_sizes)
        self.network = EnsembleMLP(2 * self.num_joints, 2 * len(self.self_keypoint_indices), self.hidden_sizes,
                                   ensemble_size=1, seed=seed)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

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

    def prediction_errors_px(self, joint_positions_rad: np.ndarray, centers: np.ndarray,
                             image_size_px: tuple[int, int], predicted: np.ndarray | None = None) -> np.ndarray:
        """Distances in pixels, predicted vs observed, of the schema's own keypoints among all the
        observed ones: joints (n,) or (T, n), centres (K, 2) or (T, K, 2) -> (K_self,) or (T, K_self).
        `predicted`: `predict(joint_positions_rad)` when the caller has it already."""
        observed = np.asarray(centers)[..., self.self_keypoint_indices, :]
        predicted = self.predict(joint_positions_rad) if predicted is None else predicted
        return pixel_distance(predicted, observed, image_size_px)

    def save(self, path: Path | str) -> Path:
        metadata = {"joint_names": self.joint_names, "num_keypoints": self.num_keypoints,
                    "self_keypoint_indices": self.self_keypoint_indices, "hidden_sizes": list(self.hidden_sizes),
                    "keypoint_model_sha256": self.keypoint_model_sha256}
        return save_model_file(path, FORMAT_NAME, FORMAT_VERSION, metadata, self.network.state_dict())

    @classmethod
    def load(cls, path: Path | str) -> "BodySchema":
        metadata, state_dict = load_model_file(path, FORMAT_NAME, FORMAT_VERSION)
        try:
            schema = cls(metadata["joint_names"], metadata["num_keypoints"], metadata["self_keypoint_indices"],
                         tuple(metadata["hidden_sizes"]), keypoint_model_sha256=metadata["keypoint_model_sha256"])
            schema.network.load_state_dict(state_dict)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(path, f"weights or metadata do not fit a body schema ({error})") from None
        schema.network.eval()
        return schema


def load_shipped_body_schema() -> BodySchema:
    """The body schema shipped in the package, so the node runs without training first."""
    resource = importlib.resources.files("smrl_self_model") / "models" / SHIPPED_MODEL
    with importlib.resources.as_file(resource) as path:
        return BodySchema.load(path)


def train_body_schema(joint_positions_rad: np.ndarray, centers: np.ndarray, self_keypoint_indices: Sequence[int],
                      joint_names: Sequence[str], hidden_sizes: tuple[int, ...] = (128, 128),
                      config: TrainingConfig | None = None,
                      keypoint_model_sha256: str = "") -> tuple[BodySchema, TrainingLog]:
    """Fit a body schema to joints (T, n) rad and the keypoints (T, K, 2) seen at the same frames,
    of which it learns `self_keypoint_indices`."""
    config = config or TrainingConfig()
    joint_positions_rad = np.asarray(joint_positions_rad, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 3 or centers.shape[2] != 2 or len(centers) != len(joint_positions_rad):
        raise ValueError(f"expected keypoints ({len(joint_positions_rad)}, K, 2), got {centers.shape}")
    if joint_positions_rad.shape[1:] != (len(joint_names),):
        raise ValueError(f"expected joint positions (T, {len(joint_names)}), got {joint_positions_rad.shape}")
    schema = BodySchema(joint_names, centers.shape[1], self_keypoint_indices, hidden_sizes, config.seed,
                        keypoint_model_sha256)
    self_keypoints = centers[:, schema.self_keypoint_indices]
    log = train_ensemble(schema.network, joint_angle_features(joint_positions_rad),
                         self_keypoints.reshape(len(self_keypoints), -1), config)
    return schema, log
