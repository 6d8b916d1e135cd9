"""Self/world labelling on the synthetic world (conftest.py), one test per trap.

Labels are pooled over three seeds: 36-48 keypoints, 21 of them self, so precision and recall
>= 0.95 allow one mistake at most; the trap's own keypoints must be world in every seed.
"""
import numpy as np
import pytest

from smrl_self_model.core.contingency import (
    LABEL_SELF,
    LABEL_UNKNOWN,
    LABEL_WORLD,
    ContingencyConfig,
    ContingencyLabeller,
    label_episodes,
)
from smrl_self_model.core.evaluation import precision_recall

SEEDS = (0, 1, 2)


def label(episode, config=None):
    return label_episodes([episode.centers], [episode.intensities], [episode.joint_positions_rad], config)


def roles_labelled(episode, labels, role):
    return labels[[i for i, r in enumerate(episode.roles) if r == role]]


def assert_labels_match_truth(episodes, labellers):
    truth = np.concatenate([episode.is_self for episode in episodes])
    labels = np.concatenate([labeller.labels for labeller in labellers])
    precision, recall = precision_recall(truth, labels)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert not np.any(labels == LABEL_UNKNOWN)  # 1000 frames of babbling are enough evidence


def test_object_pushed_by_the_arm_is_world(synthetic_episode):
    episodes = [synthetic_episode(seed, push_object=True) for seed in SEEDS]
    labellers = [label(episode) for episode in episodes]
    for episode, labeller in zip(episodes, labellers):
        assert episode.contact_fraction > 0.15  # the trap is real: the arm pushes it often
        assert roles_labelled(episode, labeller.labels, "object") == [LABEL_WORLD]
    assert_labels_match_truth(episodes, labellers)


def test_distractor_arm_moving_on_its_own_is_world(synthetic_episode):
    episodes = [synthetic_episode(seed, distractor_arm=True) for seed in SEEDS]
    labellers = [label(episode) for episode in episodes]
    for episode, labeller in zip(episodes, labellers):
        assert np.all(roles_labelled(episode, labeller.labels, "distractor") == LABEL_WORLD)
        assert np.all(roles_labelled(episode, labeller.scores, "distractor") < 0.2)
    assert_labels_match_truth(episodes, labellers)


def test_still_arm_gives_no_evidence_while_the_world_moves(synthetic_episode):
    still = synthetic_episode(0, still_arm=True, distractor_arm=True, jitter=0.01)
    labeller = label(still)
    assert np.all(labeller.labels == LABEL_UNKNOWN)
    assert np.all(labeller.scores == 0.0)
    assert np.all(labeller.evidence_samples == 0)


def test_labels_stay_while_the_arm_rests(synthetic_episode):
    moving = synthetic_episode(0, distractor_arm=True)
    still = synthetic_episode(1, still_arm=True, distractor_arm=True)
    before = label(moving)
    after = label_episodes([moving.centers, still.centers], [moving.intensities, still.intensities],
                           [moving.joint_positions_rad, still.joint_positions_rad])
    np.testing.assert_array_equal(after.labels, before.labels)
    np.testing.assert_array_equal(after.scores, before.scores)


def test_unknown_until_enough_evidence(synthetic_episode):
    episode = synthetic_episode(0, distractor_arm=True)
    labeller = ContingencyLabeller(len(episode.roles), episode.joint_positions_rad.shape[1])
    assert np.all(labeller.labels == LABEL_UNKNOWN)
    for frame, (centers, intensities, joints) in enumerate(
            zip(episode.centers, episode.intensities, episode.joint_positions_rad), start=1):
        labeller.update(centers, intensities, joints)
        if frame == 100:
            labeller.refresh()
            assert labeller.num_samples > 0
            assert np.all(labeller.evidence_samples < ContingencyConfig().min_evidence_samples)
            assert np.all(labeller.labels == LABEL_UNKNOWN)
    labeller.refresh()
    np.testing.assert_array_equal(labeller.labels == LABEL_SELF, episode.is_self)


def test_detector_jumps_do_not_flip_self_keypoints(synthetic_episode):
    episodes = [synthetic_episode(seed, push_object=True, distractor_arm=True, outlier_rate=0.05) for seed in SEEDS]
    labellers = [label(episode) for episode in episodes]
    for episode, labeller in zip(episodes, labellers):
        assert np.all(roles_labelled(episode, labeller.labels, "arm") == LABEL_SELF)
    assert_labels_match_truth(episodes, labellers)
    # It is the trimming that saves them: without it, jumps swamp the arm's motion.
    untrimmed = label(episodes[0], ContingencyConfig(trim_iterations=0))
    assert np.sum(roles_labelled(episodes[0], untrimmed.labels, "arm") == LABEL_SELF) < 7


def test_low_intensity_detections_are_left_out(synthetic_episode):
    episode = synthetic_episode(0)
    rng = np.random.default_rng(0)
    lost = rng.random(len(episode.centers)) < 0.3  # keypoint 6 (the tip) is lost in 30% of frames
    episode.centers[lost, 6] = rng.uniform(-1, 1, (lost.sum(), 2))
    episode.intensities[lost, 6] = 0.0
    labeller = label(episode, ContingencyConfig(min_intensity=0.5))
    assert labeller.labels[6] == LABEL_SELF
    assert labeller.evidence_samples[6] < 0.8 * labeller.evidence_samples[5]


def test_update_rejects_arrays_of_the_wrong_shape():
    labeller = ContingencyLabeller(num_keypoints=4, num_joints=7)
    with pytest.raises(ValueError, match="centers"):
        labeller.update(np.zeros((5, 2)), np.ones(5), np.zeros(7))
    with pytest.raises(ValueError, match="joint positions"):
        labeller.update(np.zeros((4, 2)), np.ones(4), np.zeros(6))


def carried_object(tip, carried_fraction, rng):
    """(T, 2): an object that moves with the arm's tip in spells covering ~carried_fraction of the
    frames (mean spell 30 frames) and rests between them."""
    position, track, carrying = np.zeros(2), [], False
    for t in range(len(tip)):
        if t > 0 and carrying:
            position = position + tip[t] - tip[t - 1]
        track.append(position)
        if rng.random() < 1 / 30:
            carrying = rng.random() < carried_fraction
    return np.array(track) + rng.normal(0, 0.004, (len(tip), 2))


def test_an_object_scores_as_self_as_much_as_the_arm_carries_it(synthetic_episode):
    episode = synthetic_episode(0, 1500)
    rng = np.random.default_rng(0)
    objects = [carried_object(episode.centers[:, 6], fraction, rng) for fraction in (0.0, 0.9)]
    centers = np.concatenate([episode.centers, np.stack(objects, axis=1)], axis=1)
    labeller = label_episodes([centers], [np.ones(centers.shape[:2])], [episode.joint_positions_rad])
    never, mostly = labeller.scores[-2:]
    print(f"scores: never carried {never:.2f}, carried 90 % of the time {mostly:.2f}")
    assert never < 0.05 and mostly > 0.5
    assert labeller.labels[-2] == LABEL_WORLD  # lies where it was put
    assert labeller.labels[-1] == LABEL_SELF   # carried like a held tool
    # In between, the per-keypoint label depends on `self_threshold` (0.125, chosen on the sims'
    # train episodes); the per-frame labels are what tell an object's carried spells apart.


def test_a_labeller_started_from_saved_evidence_labels_as_the_one_that_saved_it_and_learns_on(synthetic_episode, tmp_path):
    episode = synthetic_episode(0, push_object=True)
    learned = label(episode)
    path = learned.save_evidence(tmp_path / "evidence.pt", keypoint_model_sha256="abc", source="synthetic seed 0")
    started, metadata = ContingencyLabeller.from_evidence(path)
    assert metadata["keypoint_model_sha256"] == "abc" and metadata["source"] == "synthetic seed 0"
    assert started.num_samples == learned.num_samples > 150
    np.testing.assert_array_equal(started.labels, learned.labels)
    np.testing.assert_allclose(started.scores, learned.scores, atol=1e-9)
    frame = len(episode.centers) - 1
    np.testing.assert_array_equal(started.frame_labels(episode.centers[frame], episode.joint_positions_rad[frame]),
                                  learned.frame_labels(episode.centers[frame], episode.joint_positions_rad[frame]))
    # A smaller window keeps the newest samples; new frames go on adding samples.
    small, _ = ContingencyLabeller.from_evidence(path, ContingencyConfig(window_samples=200))
    assert small.num_samples == 200 and not np.any(small.labels == LABEL_UNKNOWN)
    small.update_episode(episode.centers[:100], episode.intensities[:100], episode.joint_positions_rad[:100])
    assert small.num_samples > 200


def test_evidence_files_that_do_not_fit_are_refused_by_name(tmp_path):
    from smrl_self_model.core.body_schema import BodySchema
    from smrl_self_model.core.model_file import ModelFileError

    schema_file = BodySchema(["j1", "j2"], 3, [0]).save(tmp_path / "schema.pt")
    with pytest.raises(ModelFileError, match="not a smrl_self_evidence file"):
        ContingencyLabeller.from_evidence(schema_file)
    with pytest.raises(ModelFileError, match="no such file"):
        ContingencyLabeller.from_evidence(tmp_path / "missing.pt")
