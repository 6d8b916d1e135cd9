"""The fixed RGB camera: rendering, intrinsics for CameraInfo, its pose, and projection.

Pixel conventions (OpenCV / ROS CameraInfo): u is the column, v the row, pixel (0, 0)'s centre is
at (0, 0), so the optical axis meets the image at ((W-1)/2, (H-1)/2). The learners use normalised
coordinates in [-1, 1] over the whole image (x right, y down), converted only by
`smrl_common.core.pixel_coordinates`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

#: PyBullet's object+link segmentation: value = body + ((link + 1) << 24), -1 where nothing is seen.
SEGMENTATION_FLAGS = pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX


@dataclass(frozen=True)
class CameraConfig:
    """A scene's camera. No defaults: the scene YAML (config/scenes) is the one owner of its values."""
    width: int                                         # px
    height: int                                        # px
    target: tuple[float, float, float]                 # m, world point on the optical axis
    distance: float                                    # m from target to camera
    yaw_deg: float
    pitch_deg: float
    fov_deg: float                                     # vertical field of view
    near: float                                        # m
    far: float                                         # m

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 1024 and 16 <= self.height <= 1024):
            raise ValueError(f"camera size {self.width}x{self.height} px is outside 16..1024")
        if not 0 < self.fov_deg < 180 or not 0 < self.near < self.far:
            raise ValueError("camera needs 0 < fov_deg < 180 and 0 < near < far")

    @classmethod
    def from_dict(cls, data: dict) -> "CameraConfig":
        known = {f.name for f in fields(cls)}
        unknown, missing = set(data) - known, known - set(data)
        if unknown:
            raise ValueError(f"unknown camera settings {sorted(unknown)}; known: {sorted(known)}")
        if missing:
            raise ValueError(f"missing camera settings {sorted(missing)}: a scene gives them all")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class Camera:
    """Renders the scene with PyBullet's TinyRenderer (CPU) from a fixed pose."""

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.view_matrix = pybullet.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=config.target, distance=config.distance, yaw=config.yaw_deg,
            pitch=config.pitch_deg, roll=0.0, upAxisIndex=2,
        )
        self.projection_matrix = pybullet.computeProjectionMatrixFOV(
            fov=config.fov_deg, aspect=config.width / config.height, nearVal=config.near, farVal=config.far
        )
        # PyBullet matrices are column-major flat lists.
        self._view = np.array(self.view_matrix).reshape(4, 4).T
        self._projection = np.array(self.projection_matrix).reshape(4, 4).T

    # --- rendering ----------------------------------------------------------------------
    def render(self, client: BulletClient, segmentation: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """RGB image (H, W, 3) uint8, and the segmentation (H, W) int32 when asked (evaluation only)."""
        cfg = self.config
        _, _, rgba, _, seg = client.getCameraImage(
            cfg.width, cfg.height, self.view_matrix, self.projection_matrix,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=SEGMENTATION_FLAGS if segmentation else pybullet.ER_NO_SEGMENTATION_MASK,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(cfg.height, cfg.width, 4)[:, :, :3]
        mask = np.asarray(seg, dtype=np.int32).reshape(cfg.height, cfg.width) if segmentation else None
        return np.ascontiguousarray(rgb), mask

    # --- geometry ------------------------------------------------------------------------
    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 K of a pinhole camera equal to the OpenGL projection (square pixels)."""
        cfg = self.config
        fy = (cfg.height / 2.0) / math.tan(math.radians(cfg.fov_deg) / 2.0)
        return np.array([[fy, 0.0, (cfg.width - 1) / 2.0], [0.0, fy, (cfg.height - 1) / 2.0], [0.0, 0.0, 1.0]])

    def optical_frame_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World pose of the optical frame (REP 103: z forward, x right, y down): position, 3x3 rotation."""
        camera_to_world_gl = np.linalg.inv(self._view)  # OpenGL camera: x right, y up, z backwards
        rotation = camera_to_world_gl[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        return camera_to_world_gl[:3, 3].copy(), rotation

    def camera_link_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World pose of `camera_link` (REP 103 body frame: x forward, y left, z up)."""
        position, optical = self.optical_frame_pose()
        # Columns: x_link = z_opt, y_link = -x_opt, z_link = -y_opt.
        return position, np.column_stack([optical[:, 2], -optical[:, 0], -optical[:, 1]])

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """(N, 3) world points (m) -> (N, 2) pixel (u, v), same convention as the rendered image."""
        points = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        homogeneous = np.hstack([points, np.ones((len(points), 1))])
        clip = homogeneous @ (self._projection @ self._view).T
        ndc = clip[:, :3] / clip[:, 3:4]
        cfg = self.config
        u = (ndc[:, 0] + 1.0) / 2.0 * cfg.width - 0.5
        v = (1.0 - ndc[:, 1]) / 2.0 * cfg.height - 0.5
        return np.stack([u, v], axis=1)


def rotation_to_quaternion(rotation: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix -> (x, y, z, w) quaternion (ROS order)."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    return q / np.linalg.norm(q)
