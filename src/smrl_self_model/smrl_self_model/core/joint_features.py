"""Features of the joint state that keypoint positions and motions are regressed on, and the ridge
solve they share (contingency.py, position_model.py)."""
from __future__ import annotations

import itertools

import numpy as np
import torch


def trigonometric_features(joint_positions_rad: np.ndarray, order: int = 2) -> np.ndarray:
    """(N, n) -> sin q, cos q and their products of up to `order` distinct factors: 2n + C(2n, 2)
    (105 for 7 joints) at order 2, + C(2n, 3) (469) at order 3. A point's image position under a
    chain of rotations is a polynomial in these; more factors follow a longer chain more closely."""
    angles = np.concatenate([np.sin(joint_positions_rad), np.cos(joint_positions_rad)], axis=1)
    columns = [angles]
    for factors in range(2, order + 1):
        chosen = np.array(list(itertools.combinations(range(angles.shape[1]), factors))).T
        columns.append(np.prod(angles[:, chosen], axis=1))
    return np.concatenate(columns, axis=1)


def ridge_solve(gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> torch.Tensor:
    """Solve (gram + ridge * mean diagonal * I) W = cross over the leading batch dimensions."""
    mean_power = gram.diagonal(dim1=-2, dim2=-1).mean(dim=-1)
    penalty = (ridge * mean_power + 1e-12)[..., None, None] * torch.eye(gram.shape[-1], dtype=gram.dtype)
    return torch.linalg.solve(gram + penalty, cross)
