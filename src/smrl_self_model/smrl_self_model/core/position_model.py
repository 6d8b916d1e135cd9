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
    coefficients: np.ndarray  # (K, P, F, 2): up to P body places per keypoint
    accepted: np.ndarray      # (K, P) bool: the places a keypoint rides on (place 0 always)
    feature_order: int

    def predict(self, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(N, n) rad -> (N, K, P, 2) normalised positions of every place."""
        features = position_features(np.atleast_2d(joint_positions_rad), self.feature_order)
        return np.einsum("nf,kpfc->nkpc", features, self.coefficients)

    def distances(self, centers: np.ndarray, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(N, K, 2) observed centres, (N, n) joints -> (N, K) normalised distance to the nearest
        accepted place."""
        centers = np.asarray(centers).reshape(-1, self.coefficients.shape[0], 1, 2)
        distance = np.linalg.norm(centers - self.predict(joint_positions_rad), axis=-1)  # (N, K, P)
        return np.where(self.accepted, distance, np.inf).min(axis=-1)


def fit_position_model(joint_positions_rad: np.ndarray, centers: np.ndarray, usable: np.ndarray,
                       inlier_radius: float, ridge: float, feature_order: int = 2, max_places: int = 2,
                       min_place_inliers: float = 0.6, steps_per_fraction: int = 2) -> PositionModel:
    """Robust per-keypoint fit; joint_positions_rad (N, n), centers (N, K, 2), usable (N, K) bool.

    Place 0 is fitted on all usable frames. Each further place is fitted on the frames no place
    fitted so far explains (beyond `inlier_radius`), and accepted for a keypoint when those are at
    least 2 per feature (fewer would be interpolated, not fitted) and at least `min_place_inliers`
    of them lie within `inlier_radius` of it. Why: a keypoint can ride on two places of the arm
    (the Panda's, in a third of their frames on another link); judged by one place, those frames
    were called world. A second arm's frames are not a function of the agent's joints: fitted
    the same way, fewer of them fall within the radius (contingency.ContingencyConfig has the
    figures behind `min_place_inliers`)."""
    if max_places < 1:
        raise ValueError(f"max_places must be >= 1, got {max_places}")
    phi = torch.from_numpy(np.ascontiguousarray(position_features(joint_positions_rad, feature_order)))
    target = torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float64)).transpose(0, 1)  # (K, N, 2)
    usable_t = torch.from_numpy(np.asarray(usable, dtype=bool)).T                              # (K, N)
    places, accepted = [], []
    unexplained = usable_t
    for place in range(max_places):
        coefficients, distance = robust_fit(phi, target, unexplained, inlier_radius, ridge, steps_per_fraction)
        inliers = unexplained & (distance <= inlier_radius)
        if place == 0:
            accept = torch.ones(len(target), dtype=torch.bool)
        else:
            frames = unexplained.sum(dim=1)
            accept = (frames >= 2 * phi.shape[1]) & (inliers.sum(dim=1) >= min_place_inliers * frames)
        places.append(coefficients)
        accepted.append(accept)
        unexplained = unexplained & ~(inliers & accept[:, None])
    return PositionModel(torch.stack(places, dim=1).numpy(), torch.stack(accepted, dim=1).numpy(), feature_order)


def robust_fit(phi: torch.Tensor, target: torch.Tensor, usable: torch.Tensor, inlier_radius: float, ridge: float,
               steps_per_fraction: int) -> tuple[torch.Tensor, torch.Tensor]:
    """phi (N, F), target (K, N, 2), usable (K, N) -> coefficients (K, F, 2) fitted by least
    trimmed squares (module docstring), and every frame's distance to the fit (K, N). A trimmed
    fit keeps at least 2 frames per feature: a further place is fitted on a few hundred frames,
    and 30 % of them would be fewer than its features (the fit then interpolates them and misses
    every other frame)."""

    def fit(kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weighted = kept[..., None] * phi                                                     # (K, N, F)
        coefficients = ridge_solve(weighted.transpose(1, 2) @ phi, weighted.transpose(1, 2) @ target, ridge)
        return coefficients, (target - phi @ coefficients).norm(dim=-1)                      # (K, F, 2), (K, N)

    coefficients, distance = fit(usable)
    frames = usable.sum(dim=1, keepdim=True)
    least_kept = torch.minimum(frames, torch.tensor(2 * phi.shape[1]))  # fewer would be interpolated
    for fraction in TRIM_SCHEDULE:
        kept = torch.maximum((fraction * frames).ceil().long(), least_kept).clamp(min=1)
        for _ in range(steps_per_fraction):
            ranked = torch.where(usable, distance, torch.inf).sort(dim=1).values
            cut = ranked.gather(1, kept - 1)
            coefficients, distance = fit(usable & (distance <= cut))
    return fit(usable & (distance <= inlier_radius))
