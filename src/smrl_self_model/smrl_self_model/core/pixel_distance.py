"""Distances between keypoints in pixels: how the self model's errors are reported.

Normalised coordinates span the image with 2 units (architecture.md), so a difference dx_norm is
dx_norm * W / 2 pixels across and dy_norm * H / 2 down; the half-pixel offset of the coordinate
conversion (smrl_common.core.pixel_coordinates) cancels in a difference.
"""
from __future__ import annotations

import numpy as np


def pixel_distance(a: np.ndarray, b: np.ndarray, image_size_px: tuple[int, int]) -> np.ndarray:
    """(..., 2) normalised points a and b -> (...,) Euclidean distance in pixels; size = (W, H)."""
    width, height = image_size_px
    difference = (np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) * [width / 2, height / 2]
    return np.linalg.norm(difference, axis=-1)
