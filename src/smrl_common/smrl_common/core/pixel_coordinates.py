"""Pixel <-> normalised image coordinates: the one implementation of docs/architecture.md's convention.

Pixels (OpenCV / ROS CameraInfo): u is the column, v the row, pixel (0, 0)'s centre is at (0, 0).
The learners use normalised coordinates in [-1, 1] over the whole image (x right, y down).
"""
from __future__ import annotations

import numpy as np


def pixels_to_normalised(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """(..., 2) pixel (u, v) -> normalised (x, y) in [-1, 1], pixel centres at (u + 0.5) / W."""
    size = np.array([width, height], dtype=np.float64)
    return (np.asarray(pixels, dtype=np.float64) + 0.5) / size * 2.0 - 1.0


def normalised_to_pixels(normalised: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of `pixels_to_normalised`."""
    size = np.array([width, height], dtype=np.float64)
    return (np.asarray(normalised, dtype=np.float64) + 1.0) / 2.0 * size - 0.5
