"""Keypoints as 3D rays: where in the camera's optical frame an image point can be.

A keypoint gives no depth, so the node shows it in rviz as its camera ray and a point at a fixed
depth on it; with the robot model in the same view, the ray shows what the keypoint looks at.
"""
from __future__ import annotations

import numpy as np


def checked_intrinsics(k_row_major: np.ndarray) -> np.ndarray:
    """CameraInfo's K (9 values, row major) as a 3x3 pinhole matrix; ValueError if it is not one."""
    k = np.asarray(k_row_major, dtype=np.float64).reshape(3, 3)
    if not np.isfinite(k).all():
        raise ValueError("K has non-finite values")
    if k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], (0.0, 0.0, 1.0)):
        raise ValueError(f"K is not a pinhole camera matrix (fx {k[0, 0]}, fy {k[1, 1]}, last row {k[2]})")
    return k


def points_on_camera_rays(pixels_px: np.ndarray, intrinsics: np.ndarray, depth_m: float) -> np.ndarray:
    """(N, 2) pixels (u, v) -> (N, 3) points in the optical frame (z forward, x right, y down) on
    their camera rays at `depth_m` along the optical axis: z = depth_m, projecting back to (u, v)."""
    pixels_px = np.asarray(pixels_px, dtype=np.float64)
    homogeneous = np.column_stack([pixels_px, np.ones(len(pixels_px))])
    return depth_m * homogeneous @ np.linalg.inv(intrinsics).T
