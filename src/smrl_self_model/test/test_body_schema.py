"""The body schema learns the synthetic arm (conftest.py) from its link keypoints, jumps and all."""
import numpy as np
import pytest
import torch

from smrl_self_model.core.body_schema import FORMAT_NAME, BodySchema, train_body_schema
from smrl_self_model.core.ensemble_regression import TrainingConfig
from smrl_self_model.core.forward_model import ForwardModel
from smrl_self_model.core.model_file import ModelFileError, save_model_file
from smrl_self_model.core.pixel_distance import pixel_distance

IMAGE_SIZE_PX = (64, 64)
ARM_KEYPOINTS = list(range(7))  # the synthetic episode's first 7 keypoints are the arm's
JOINT_NAMES = [f"joint{i}" for i in range(1, 8)]


@pytest.fixture(scope="module")
def trained(synthetic_episode):
    """A schema trained on 2000 frames with 5% detector jumps, and a held-out episode without."""
    training = synthetic_episode(0, 2000, outlier_rate=0.05)
    schema, log = train_body_schema(training.joint_positions_rad, training.centers, ARM_KEYPOINTS, JOINT_NAMES)
    return schema, log, synthetic_episode(1, 500)


def test_learns_the_arm_to_a_fraction_of_a_pixel_on_held_out_configurations(trained):
    schema, log, held_out = trained
    observed = held_out.centers[:, ARM_KEYPOINTS]
    error_px = schema.prediction_errors_px(held_out.joint_positions_rad, held_out.centers, IMAGE_SIZE_PX).mean()
    mean_pose_error_px = pixel_distance(observed.mean(axis=0), observed, IMAGE_SIZE_PX).mean()
    assert error_px < 0.5, error_px                  # the jitter alone is ~0.15 px
    assert error_px < 0.05 * mean_pose_error_px
    assert 0 <= log.best_epoch < len(log.validation_loss)
    assert log.validation_loss[log.best_epoch] == min(log.validation_loss)


def test_predicts_one_configuration_or_a_batch(trained):
    schema, _, held_out = trained
    batch = schema.predict(held_out.joint_positions_rad[:4])
    assert batch.shape == (4, 7, 2)
    np.testing.assert_allclose(schema.predict(held_out.joint_positions_rad[2]), batch[2], atol=1e-6)
    with pytest.raises(ValueError, match="joint positions"):
        schema.predict(np.zeros(6))


def test_training_is_seeded(synthetic_episode):
    episode = synthetic_episode(0, 300)
    config = TrainingConfig(max_epochs=5)
    first, _ = train_body_schema(episode.joint_positions_rad, episode.centers, [0, 1, 2], JOINT_NAMES, (16,), config)
    second, _ = train_body_schema(episode.joint_positions_rad, episode.centers, [0, 1, 2], JOINT_NAMES, (16,), config)
    joints = episode.joint_positions_rad
    np.testing.assert_array_equal(first.predict(joints), second.predict(joints))


def test_the_error_is_over_the_schemas_own_keypoints_among_all():
    schema = BodySchema(["a", "b", "c"], num_keypoints=4, self_keypoint_indices=[2, 0], hidden_sizes=(8,))
    joints = np.random.default_rng(0).uniform(-1, 1, (5, 3))
    centers = np.full((5, 4, 2), 0.9)  # keypoints 1 and 3 are elsewhere
    centers[:, [2, 0]] = schema.predict(joints)
    assert schema.prediction_errors_px(joints, centers, IMAGE_SIZE_PX).max() < 1e-4
    centers[:, 0, 0] += 0.25  # 8 px off, for the schema's second keypoint
    np.testing.assert_allclose(schema.prediction_errors_px(joints, centers, IMAGE_SIZE_PX), [[0, 8]] * 5, atol=1e-4)
    np.testing.assert_allclose(schema.prediction_errors_px(joints[0], centers[0], IMAGE_SIZE_PX), [0, 8], atol=1e-4)
    given = centers[:, [2, 0]]  # a prediction the caller made (here: exactly what was observed) is used as it is
    np.testing.assert_allclose(schema.prediction_errors_px(joints, centers, IMAGE_SIZE_PX, given), 0.0, atol=1e-6)


def test_keypoint_indices_must_be_distinct_keypoints_of_the_model():
    for indices in ([0, 4], [1, 1], [-1]):
        with pytest.raises(ValueError, match="not distinct keypoints of 4"):
            BodySchema(JOINT_NAMES, 4, indices)


def test_save_and_load_round_trip(trained, tmp_path):
    schema, _, held_out = trained
    loaded = BodySchema.load(schema.save(tmp_path / "schema.pt"))
    assert loaded.self_keypoint_indices == ARM_KEYPOINTS and loaded.hidden_sizes == schema.hidden_sizes
    assert loaded.joint_names == JOINT_NAMES and loaded.num_keypoints == len(held_out.roles)
    joints = held_out.joint_positions_rad
    np.testing.assert_array_equal(loaded.predict(joints), schema.predict(joints))


def test_bad_files_raise_model_file_errors_that_say_why(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        BodySchema.load(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        BodySchema.load(tmp_path / "garbage.pt")
    schema_file = BodySchema(JOINT_NAMES, 12, [0, 1]).save(tmp_path / "schema.pt")
    (tmp_path / "truncated.pt").write_bytes(schema_file.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="not a readable model file"):
        BodySchema.load(tmp_path / "truncated.pt")
    with pytest.raises(ModelFileError, match="not a smrl_self_model.forward_model file"):
        ForwardModel.load(schema_file)
    save_model_file(tmp_path / "future.pt", FORMAT_NAME, 99, {}, {})
    with pytest.raises(ModelFileError, match="format version 99, this code reads version 1"):
        BodySchema.load(tmp_path / "future.pt")
    save_model_file(tmp_path / "wrong_shape.pt", FORMAT_NAME, 1,
                    {"joint_names": JOINT_NAMES, "num_keypoints": 12, "self_keypoint_indices": [0],
                     "keypoint_model_sha256": "",
                     "hidden_sizes": [128, 128]},
                    BodySchema(JOINT_NAMES, 12, [0, 1]).network.state_dict())
    with pytest.raises(ModelFileError, match="do not fit a body schema"):
        BodySchema.load(tmp_path / "wrong_shape.pt")


def test_files_that_would_run_code_are_refused(tmp_path):
    torch.save({"format": FORMAT_NAME, "payload": np.random.default_rng(0)}, tmp_path / "pickled.pt")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        BodySchema.load(tmp_path / "pickled.pt")
