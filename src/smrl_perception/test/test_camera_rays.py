"""Keypoint pixels back-projected to camera rays agree with the sim camera's projection."""
import numpy as np
import pytest

from smrl_perception.core.camera_rays import checked_intrinsics, points_on_camera_rays
from smrl_sim.core.camera import Camera
from smrl_sim.core.scene import load_scene_config


def test_points_on_rays_project_back_to_their_pixels_through_the_sim_camera():
    camera = Camera(load_scene_config("default").camera)
    pixels = np.array([[0.0, 0.0], [31.5, 31.5], [63.0, 10.0], [-0.5, 63.5]])
    points_optical = points_on_camera_rays(pixels, checked_intrinsics(camera.intrinsics.reshape(-1)), 1.5)
    np.testing.assert_allclose(points_optical[:, 2], 1.5)
    position, rotation = camera.optical_frame_pose()
    points_world = points_optical @ rotation.T + position
    np.testing.assert_allclose(camera.project(points_world), pixels, atol=1e-4)  # PyBullet matrices are float32


@pytest.mark.parametrize("k, reason", [
    ([np.nan, 0, 32, 0, 77, 32, 0, 0, 1], "non-finite"),
    ([0, 0, 32, 0, 0, 32, 0, 0, 1], "not a pinhole"),   # an all-zero CameraInfo (uncalibrated)
    ([77, 0, 32, 0, 77, 32, 0, 0, 0], "not a pinhole"),
])
def test_unusable_intrinsics_are_rejected_with_the_reason(k, reason):
    with pytest.raises(ValueError, match=reason):
        checked_intrinsics(k)
