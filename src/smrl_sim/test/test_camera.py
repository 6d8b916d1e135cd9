from dataclasses import replace

import numpy as np
import pytest
import yaml

from smrl_common.core.pixel_coordinates import normalised_to_pixels, pixels_to_normalised
from smrl_sim.core.camera import Camera, rotation_to_quaternion
from smrl_sim.core.config_files import config_path
from smrl_sim.core.scene import SimWorld, load_scene_config


def test_normalised_coordinates_put_pixel_centres_inside_minus_one_to_one():
    corners = pixels_to_normalised(np.array([[0, 0], [63, 63]]), 64, 64)
    np.testing.assert_allclose(corners, [[-63 / 64, -63 / 64], [63 / 64, 63 / 64]])
    points = np.random.default_rng(0).uniform(0, 64, (20, 2))
    np.testing.assert_allclose(normalised_to_pixels(pixels_to_normalised(points, 64, 48), 64, 48), points)


def test_intrinsics_and_optical_frame_agree_with_the_renderers_projection():
    """A point projected with CameraInfo's K in the optical frame lands where PyBullet draws it."""
    camera = Camera(replace(load_scene_config("default").camera, width=96, height=64))
    points = np.random.default_rng(1).uniform([0.2, -0.3, 0.6], [0.7, 0.3, 1.2], (10, 3))
    position, rotation = camera.optical_frame_pose()
    in_optical = (points - position) @ rotation
    assert np.all(in_optical[:, 2] > 0), "points in front of the camera have z > 0 (REP 103 optical frame)"
    k = camera.intrinsics
    pinhole = (in_optical @ k.T)[:, :2] / in_optical[:, 2:3]
    np.testing.assert_allclose(pinhole, camera.project(points), atol=1e-6)


def test_camera_link_is_x_forward_z_up():
    camera = Camera(load_scene_config("default").camera)
    position, rotation = camera.camera_link_pose()
    towards_target = np.array(camera.config.target) - position
    assert rotation[:, 0] @ towards_target / np.linalg.norm(towards_target) > 0.99
    assert rotation[2, 2] > 0.5  # z of camera_link points up-ish for a camera pitched down 30 deg
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-6)  # float32 view matrix


def test_a_scene_missing_a_camera_setting_is_refused_naming_it(tmp_path):
    """The scene YAML is the one owner of the camera: no value silently comes from code."""
    scene = yaml.safe_load(config_path("scenes", "default").read_text())
    del scene["camera"]["fov_deg"]
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(scene))
    with pytest.raises(ValueError, match=r"missing camera settings \['fov_deg'\]"):
        load_scene_config(str(path))


def test_quaternion_of_a_rotation_about_z():
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    np.testing.assert_allclose(rotation_to_quaternion(rotation), [0, 0, np.sin(angle / 2), np.cos(angle / 2)], atol=1e-9)


@pytest.fixture(scope="module")
def world():
    world = SimWorld(load_scene_config("default"))
    world.reset(np.random.default_rng(3))
    world.step(50)
    yield world
    world.close()


def test_projected_ground_truth_lands_on_the_segmented_arm_and_object(world):
    rgb, segmentation = world.render(segmentation=True)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    self_mask, object_mask = world.self_mask(segmentation), world.object_mask(segmentation)
    assert self_mask.sum() > 100 and object_mask.sum() > 5
    u, v = np.round(world.camera.project(world.object_position())[0]).astype(int)
    assert object_mask[max(v - 1, 0):v + 2, max(u - 1, 0):u + 2].any()
    link_pixels = np.round(world.camera.project(world.robot.link_positions()[1:8])).astype(int)
    on_arm = [self_mask[max(v - 1, 0):v + 2, max(u - 1, 0):u + 2].any() for u, v in link_pixels]
    assert np.mean(on_arm) >= 0.85, on_arm
