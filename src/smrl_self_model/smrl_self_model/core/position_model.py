"""Where each keypoint would be if it rode on the body: c_k ~ W_k^T phi(q), from the joint state.

The contingency labeller asks whether a keypoint's *motion* follows the joints, over many samples.
A keypoint can follow the agent's arm in some frames and something else in others (two look-alike
arms side by side; an object the hand carries now and then), so "self" must also be judged per
frame: is the keypoint now where a function of the joint state puts it? phi(q) = [1, sin q, cos q
and their products of up to `feature_order` factors] (joint_features.trigonometric_features and a
constant: 106 features for 7 joints at order 2, the family of the labeller's best predictor).

The fit is robust: a keypoint that spends half its frames on something else must not pull its
body model off. Least trimmed squares by concentration steps: fit, keep the fraction of frames it
fits best, refit, with the kept fraction shrinking (TRIM_SCHEDULE) so the fit settles on the mode
the joints explain rather than between the modes; then one refit on every frame within
`inlier_radius`. (Trimming at a fixed residual multiple, as the labeller does for jumps, stays
between the modes: on the synthetic world's arm-switching keypoint it kept 12 % of the frames
and called neither mode; with the shrinking schedule its frames on either arm were told apart
99.6 % right, test_frame_labels.py.)
Coordinates are normalised (x, y in [-1, 1]), as the labeller's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from smrl_self_model.core.joint_features import ridge_solve, trigonometric_features

#: Fractions of each keypoint's frames kept by the successive concentration steps.
TRIM_SCHEDULE = (0.8, 0.6, 0.4, 0.3)


def position_features(joint_positions_rad: np.ndarray, order: int) -> np.ndarray:
    """(N, n) -> (N, 1 + F): a constant, then trigonometric_features of `order`."""
    return np.concatenate([np.ones((len(joint_positions_rad), 1)), trigonometric_features(joint_positions_rad, order)],
                          axis=1)


@dataclass
class PositionModel:
    coefficients: np.ndarray  # (K, F, 2)
    feature_order: int

    def predict(self, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(N, n) rad -> (N, K, 2) normalised positions."""
        features = position_features(np.atleast_2d(joint_positions_rad), self.feature_order)
        return np.einsum("nf,kfc->nkc", features, self.coefficients)

    def distances(self, centers: np.ndarray, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(N, K, 2) observed centres, (N, n) joints -> (N, K) normalised distance to the model's place."""
        return np.linalg.norm(np.asarray(centers).reshape(-1, self.coefficients.shape[0], 2)
                              - self.predict(joint_positions_rad), axis=-1)


def fit_position_model(joint_positions_rad: np.ndarray, centers: np.ndarray, usable: np.ndarray,
                       inlier_radius: float, ridge: float, feature_order: int = 2,
                       steps_per_fraction: int = 2) -> PositionModel:
    """Robust per-keypoint fit; joint_positions_rad (N, n), centers (N, K, 2), usable (N, K) bool."""
    phi = torch.from_numpy(np.ascontiguousarray(position_features(joint_positions_rad, feature_order)))
    target = torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float64)).transpose(0, 1)  # (K, N, 2)
    usable_t = torch.from_numpy(np.asarray(usable, dtype=bool)).T                              # (K, N)

    def fit(kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weighted = kept[..., None] * phi                                                     # (K, N, F)
        coefficients = ridge_solve(weighted.transpose(1, 2) @ phi, weighted.transpose(1, 2) @ target, ridge)
        return coefficients, (target - phi @ coefficients).norm(dim=-1)                      # (K, F, 2), (K, N)

    coefficients, distance = fit(usable_t)
    for fraction in TRIM_SCHEDULE:
        for _ in range(steps_per_fraction):
            cut = torch.where(usable_t, distance, torch.inf).quantile(fraction, dim=1, keepdim=True)
            coefficients, distance = fit(usable_t & (distance <= cut))
    coefficients, _ = fit(usable_t & (distance <= inlier_radius))
    return PositionModel(coefficients.numpy(), feature_order)
