"""The forward model predicts the synthetic arm's next keypoints (conftest.py) from a joint command."""
import numpy as np
import pytest

from smrl_self_model.core.ensemble_regression import TrainingConfig
from smrl_self_model.core.forward_model import ForwardModel, Transitions, train_forward_model
from smrl_self_model.core.pixel_distance import pixel_distance

IMAGE_SIZE_PX = (64, 64)
ARM_KEYPOINTS = list(range(7))
JOINT_NAMES = [f"joint{i}" for i in range(1, 8)]
NUM_KEYPOINTS = 12  # the synthetic episode's: 7 arm, 4 background, 1 object


def arm_transitions(episode):
    return Transitions.from_episode(episode.centers[:, ARM_KEYPOINTS], episode.joint_positions_rad,
                                    episode.joint_targets_rad)


@pytest.fixture(scope="module")
def trained(synthetic_episode):
    """An ensemble of 5 trained briefly on two 1000-frame episodes, and a held-out episode."""
    training = Transitions.concatenate([arm_transitions(synthetic_episode(seed, 1000)) for seed in (0, 1)])
    model, _ = train_forward_model(training, JOINT_NAMES, NUM_KEYPOINTS, ARM_KEYPOINTS, hidden_sizes=(64, 64),
                                   config=TrainingConfig(learning_rate=3e-3, max_epochs=100))
    return model, arm_transitions(synthetic_episode(2, 500))


def test_transitions_pair_each_frame_with_the_next():
    keypoints = np.arange(4 * 1 * 2, dtype=float).reshape(4, 1, 2)
    joints = np.arange(4, dtype=float)[:, None]
    targets = joints + 10
    transitions = Transitions.from_episode(keypoints, joints, targets)
    np.testing.assert_array_equal(transitions.next_self_keypoints, keypoints[1:])
    np.testing.assert_array_equal(transitions.joint_command_change_rad, np.full((3, 1), 10.0))
    both = Transitions.concatenate([transitions, transitions])
    assert both.self_keypoints.shape == (6, 1, 2) and both.next_joint_positions_rad.shape == (6, 1)


def test_beats_the_zero_motion_baseline_on_held_out_frames(trained):
    model, held_out = trained
    zero_motion_px = pixel_distance(held_out.self_keypoints, held_out.next_self_keypoints, IMAGE_SIZE_PX).mean()
    assert model.prediction_error_px(held_out, IMAGE_SIZE_PX) < 0.5 * zero_motion_px
    _, next_joints = model.predict(held_out.self_keypoints, held_out.joint_positions_rad,
                                   held_out.joint_command_change_rad)
    joint_error = np.abs(next_joints - held_out.next_joint_positions_rad).mean()
    assert joint_error < 0.5 * np.abs(held_out.next_joint_positions_rad - held_out.joint_positions_rad).mean()


def test_ensemble_members_disagree_and_predict_averages_them(trained):
    model, held_out = trained
    states = (held_out.self_keypoints[:8], held_out.joint_positions_rad[:8], held_out.joint_command_change_rad[:8])
    member_keypoints, member_joints = model.predict_members(*states)
    assert member_keypoints.shape == (5, 8, 7, 2) and member_joints.shape == (5, 8, 7)
    assert member_keypoints.std(axis=0).mean() > 0
    mean_keypoints, mean_joints = model.predict(*states)
    np.testing.assert_allclose(mean_keypoints, member_keypoints.mean(axis=0), atol=1e-9)
    single_keypoints, single_joints = model.predict(*(state[3] for state in states))
    np.testing.assert_allclose(single_keypoints, mean_keypoints[3], atol=1e-6)
    np.testing.assert_allclose(single_joints, mean_joints[3], atol=1e-6)


def test_save_and_load_round_trip(trained, tmp_path):
    model, held_out = trained
    loaded = ForwardModel.load(model.save(tmp_path / "forward_model.pt"))
    assert loaded.ensemble_size == 5 and loaded.self_keypoint_indices == ARM_KEYPOINTS
    assert loaded.joint_names == JOINT_NAMES and loaded.num_keypoints == NUM_KEYPOINTS
    assert loaded.prediction_error_px(held_out, IMAGE_SIZE_PX) == model.prediction_error_px(held_out, IMAGE_SIZE_PX)
