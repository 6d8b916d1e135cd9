"""The keypoint path the node and the probe share: shipped model, pixel/normalised conventions."""
import numpy as np
import pytest

from smrl_common.core.pixel_coordinates import pixels_to_normalised
from smrl_perception.core.checkpoint import SHIPPED_MODELS, CheckpointError, save_checkpoint
from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_perception.core.transporter import Transporter, TransporterConfig


@pytest.mark.parametrize("robot", sorted(SHIPPED_MODELS))
def test_the_shipped_model_loads_and_finds_its_keypoints_in_a_camera_frame(make_frames, robot):
    detector = KeypointDetector.from_checkpoint(robot=robot)  # no path: the model shipped as package data
    assert detector.image_size == 64 and detector.num_keypoints >= 1
    frame = make_frames(1, seed=0, image_size=64)[0]
    keypoints = detector.detect(frame)
    assert keypoints.pixels.shape == keypoints.normalised.shape == (detector.num_keypoints, 2)
    assert keypoints.intensities.shape == (detector.num_keypoints,)
    assert np.all(np.abs(keypoints.normalised) <= 1.0)
    assert np.all((0 <= keypoints.intensities) & (keypoints.intensities <= 1))
    np.testing.assert_allclose(pixels_to_normalised(keypoints.pixels, 64, 64), keypoints.normalised)


def test_a_batch_gives_the_same_keypoints_as_frame_by_frame(tmp_path, make_frames):
    path = save_checkpoint(tmp_path / "model.pt", Transporter(TransporterConfig(image_size=32, num_keypoints=3)), 0)
    detector = KeypointDetector.from_checkpoint(path)
    frames = make_frames(4, seed=1)
    batch = detector.detect(frames)
    assert batch.pixels.shape == (4, 3, 2)
    for frame, pixels in zip(frames, batch.pixels):
        np.testing.assert_allclose(detector.detect(frame).pixels, pixels, atol=1e-3)  # float32, other conv kernels


def test_a_robot_without_a_shipped_model_is_an_error_naming_the_known_ones():
    with pytest.raises(CheckpointError, match="no keypoint model is shipped for robot 'ur5'"):
        KeypointDetector.from_checkpoint(robot="ur5")


def test_a_missing_checkpoint_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.pt: no such file"):
        KeypointDetector.from_checkpoint(tmp_path / "nothing.pt")
