"""What a policy sees: the self-model state as one flat vector, the same in training and on the robot.

    observation = [ joint positions (n) rad or m,
                    for each keypoint k of the keypoint model, in its fixed order:
                        x_norm, y_norm, intensity, is_self, is_world ]      -> n + 5 K values

x_norm, y_norm follow the keypoint messages (-1 at the image's left / top edge, +1 at the right /
bottom edge); is_self / is_world are the self model's per-frame labels (both 0 = unknown). The
simulator's privileged state (object and end-effector poses) is never part of it: that is only for
the baselines' `privileged_observation` and for evaluation.
"""
from __future__ import annotations

import numpy as np

#: Per-frame labels, as in smrl_msgs/SelfModelState (LABEL_UNKNOWN = 0, LABEL_SELF = 1, LABEL_WORLD = 2).
LABEL_SELF = 1
LABEL_WORLD = 2
VALUES_PER_KEYPOINT = 5


def observation_size(num_joints: int, num_keypoints: int) -> int:
    return num_joints + VALUES_PER_KEYPOINT * num_keypoints


def self_model_observation(joint_positions: np.ndarray, centers_norm: np.ndarray, intensities: np.ndarray,
                           frame_labels: np.ndarray) -> np.ndarray:
    """(n,), (K, 2), (K,), (K,) -> (n + 5 K,) float32; raises ValueError on wrong shapes or non-finite values."""
    joint_positions = np.asarray(joint_positions, dtype=np.float64)
    centers_norm = np.asarray(centers_norm, dtype=np.float64)
    intensities = np.asarray(intensities, dtype=np.float64)
    frame_labels = np.asarray(frame_labels)
    num_keypoints = len(centers_norm)
    if joint_positions.ndim != 1 or centers_norm.shape != (num_keypoints, 2) or intensities.shape != (num_keypoints,) \
            or frame_labels.shape != (num_keypoints,):
        raise ValueError(
            f"expected joints (n,), centres (K, 2), intensities (K,), labels (K,); got {joint_positions.shape}, "
            f"{centers_norm.shape}, {intensities.shape}, {frame_labels.shape}"
        )
    if not (np.isfinite(joint_positions).all() and np.isfinite(centers_norm).all() and np.isfinite(intensities).all()):
        raise ValueError("non-finite joint positions, keypoints or intensities")
    per_keypoint = np.column_stack([
        centers_norm,
        intensities,
        frame_labels == LABEL_SELF,
        frame_labels == LABEL_WORLD,
    ])
    return np.concatenate([joint_positions, per_keypoint.ravel()]).astype(np.float32)


def blank_keypoint_positions(observation: np.ndarray, num_keypoints: int, keypoints: tuple[int, ...]) -> np.ndarray:
    """A copy of a self-model observation (or a batch of them, (..., n + 5 K)) with the named
    keypoints' x_norm, y_norm set to the image centre (0, 0), their intensities and labels kept.
    An ablation: a policy that steers by a keypoint fails when it stops moving."""
    observation = np.array(observation, copy=True)
    num_joints = observation.shape[-1] - VALUES_PER_KEYPOINT * num_keypoints
    if num_joints < 0 or any(not 0 <= k < num_keypoints for k in keypoints):
        raise ValueError(f"keypoints {list(keypoints)} of a {num_keypoints}-keypoint observation of size "
                         f"{observation.shape[-1]}")
    for k in keypoints:
        start = num_joints + VALUES_PER_KEYPOINT * k
        observation[..., start:start + 2] = 0.0
    return observation
