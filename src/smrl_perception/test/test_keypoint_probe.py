"""The keypoint quality measures: linear probe, best keypoint, placement, drawing."""
import numpy as np
import pytest
from PIL import Image

from smrl_perception.core.drawing import keypoint_colours
from smrl_perception.core.probe import (
    best_single_keypoint,
    distractor_mask,
    draw_keypoint_grid,
    ground_truth_points,
    keypoint_placement,
    linear_probe,
)


def episodes_of(num_frames: int, frames_per_episode: int = 50) -> np.ndarray:
    return np.arange(num_frames) // frames_per_episode


def test_keypoints_that_are_a_linear_function_of_the_truth_score_r2_one():
    rng = np.random.default_rng(0)
    end_effector_px = rng.uniform(0, 64, (300, 2))
    mixing = rng.normal(size=(2, 8 * 2))
    keypoints_px = (end_effector_px @ mixing + 5.0).reshape(300, 8, 2)
    score = linear_probe(keypoints_px, {"end_effector": end_effector_px}, episodes_of(300))["end_effector"]
    assert score.r2 == pytest.approx(1.0, abs=1e-9)
    assert score.mean_error_px == pytest.approx(0.0, abs=1e-6)


def test_keypoints_that_are_noise_score_r2_near_zero():
    rng = np.random.default_rng(1)
    keypoints_px = rng.uniform(0, 64, (2000, 8, 2))
    score = linear_probe(keypoints_px, {"object": rng.uniform(0, 64, (2000, 2))}, episodes_of(2000))["object"]
    assert abs(score.r2) < 0.05
    assert score.mean_error_px > 20.0  # about the spread of a uniform point in a 64 px square


def test_probe_scores_each_target_separately_and_skips_non_finite_frames():
    rng = np.random.default_rng(2)
    truth = rng.uniform(0, 64, (400, 2))
    keypoints_px = np.stack([truth, rng.uniform(0, 64, (400, 2))], axis=1)  # keypoint 0 is the truth
    truth_with_gaps = truth.copy()
    truth_with_gaps[::7] = np.nan  # e.g. a point behind the camera
    scores = linear_probe(keypoints_px, {
        "tracked": truth_with_gaps,
        "untracked": rng.uniform(0, 64, (400, 2)),
        "base": np.full((400, 2), 20.0),
        "jittering base": 20.0 + rng.normal(0, 0.01, (400, 2)),
    }, episodes_of(400))
    assert scores["tracked"].r2 == pytest.approx(1.0)
    assert scores["untracked"].r2 < 0.1
    assert np.isnan(scores["base"].r2)  # a target that never moves has no variance to explain
    assert np.isnan(scores["jittering base"].r2)  # nor one that moves by far less than a pixel


def test_a_keypoint_parked_on_the_background_is_left_out_of_the_map_not_given_its_jitter():
    """Least squares gives a keypoint that jitters by a hundredth of a pixel weights that fit the
    target's noise with it; where it is nudged by a few pixels in a scored episode (the arm
    passed by), the map then predicts nonsense there."""
    rng = np.random.default_rng(5)
    episode_ids = episodes_of(400)
    truth = rng.uniform(0, 64, (400, 2))
    parked = 30.0 + rng.normal(0, 0.01, (400, 2))
    parked[episode_ids == 3] += 3.0
    keypoints_px = np.stack([truth + rng.normal(0, 1.0, (400, 2)), parked], axis=1)
    score = linear_probe(keypoints_px, {"object": truth}, episode_ids)["object"]
    assert score.r2 > 0.99 and score.mean_error_px < 1.5


def test_ground_truth_points_names_end_effector_object_and_links():
    episode = {
        "gt_ee_pixel": np.zeros((5, 2)),
        "gt_object_pixel": np.ones((5, 2)),
        "gt_link_pixels": np.arange(5 * 3 * 2, dtype=float).reshape(5, 3, 2),
    }
    points = ground_truth_points(episode)
    assert list(points) == ["end_effector", "object", "link_0", "link_1", "link_2"]
    np.testing.assert_array_equal(points["link_2"], episode["gt_link_pixels"][:, 2])


def test_probe_is_scored_on_episodes_it_was_not_fit_on():
    """Keypoints on static background that differs between episodes, and an object resting at
    another place in each: unrelated, but with 8 episodes and 9 probe weights a probe that saw
    every episode would fit them perfectly. Scored on unseen episodes it must find nothing."""
    rng = np.random.default_rng(3)
    episode_ids = episodes_of(400)
    object_px = rng.uniform(0, 64, (8, 2))[episode_ids]
    keypoints_px = rng.uniform(0, 64, (8, 4, 2))[episode_ids] + rng.normal(0, 0.1, (400, 4, 2))
    score = linear_probe(keypoints_px, {"object": object_px}, episode_ids)["object"]
    assert score.r2 < 0.5
    with pytest.raises(ValueError, match="at least 2"):
        linear_probe(keypoints_px, {"object": object_px}, np.zeros(400, int))


def test_best_single_keypoint_is_the_one_sitting_on_the_target():
    rng = np.random.default_rng(4)
    target = rng.uniform(0, 64, (100, 2))
    keypoints_px = rng.uniform(0, 64, (100, 3, 2))
    keypoints_px[:, 2] = target + (1.0, 0.0)                     # keypoint 2: one pixel to the right
    assert best_single_keypoint(keypoints_px, target) == (2, pytest.approx(1.0))


def test_placement_counts_where_each_keypoint_sits():
    frames, height, width = 4, 10, 10
    self_mask = np.zeros((frames, height, width), bool)
    self_mask[:, :, :5] = True                    # arm: left half (columns 0..4)
    object_mask = np.zeros_like(self_mask)
    object_mask[:, 8:, 8:] = True                 # object: bottom right corner
    distractor = np.zeros_like(self_mask)
    distractor[:, :2, 6:] = True                  # distractor arm: top right
    keypoints_px = np.zeros((frames, 4, 2))
    keypoints_px[:, 0] = (4.4, 5)                 # nearest pixel column 4: arm
    keypoints_px[:, 1] = [(9, 9), (9, 9), (9, 9), (4.6, 0)]  # object 3 times, then column 5: background
    keypoints_px[:, 2] = (-3, 2)                  # outside the image: clipped to column 0, arm
    keypoints_px[:, 3] = (7, 1)                   # distractor
    placement = keypoint_placement(keypoints_px, self_mask, object_mask, distractor)
    np.testing.assert_allclose(placement.on_arm, [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(placement.on_object, [0.0, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(placement.on_distractor, [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(placement.on_background, [0.0, 0.25, 0.0, 0.0])
    assert list(placement.mostly()) == ["arm", "object", "arm", "distractor"]
    assert placement.counts() == {"arm": 2, "object": 1, "distractor": 1, "background": 0}


def test_distractor_mask_is_the_articulated_body_that_is_not_the_own_arm():
    link = lambda body, link_index: body + ((link_index + 1) << 24)  # noqa: E731 - PyBullet's encoding
    segmentation = np.full((1, 2, 4), -1, np.int32)
    segmentation[0, 0] = [link(1, -1), link(1, -1), link(2, 0), link(2, 3)]   # table; own arm, two links
    segmentation[0, 1] = [link(3, -1), link(4, -1), link(4, 5), -1]           # object; distractor, two links
    self_mask = (segmentation & 0xFFFFFF) == 2
    expected = np.array([[[False, False, False, False], [False, True, True, False]]])
    np.testing.assert_array_equal(distractor_mask(segmentation, self_mask), expected)


def test_keypoint_grid_is_upscaled_and_marks_each_keypoint_in_its_colour(tmp_path):
    frames = np.full((2, 3, 16, 16, 3), 255, dtype=np.uint8)      # 2 rows of 3 frames
    keypoints_px = np.array([[[[3.0, 3.0], [12.0, 12.0]]] * 3] * 2)
    path = draw_keypoint_grid(frames, keypoints_px, tmp_path / "grid.png", scale=4)
    grid = np.asarray(Image.open(path).convert("RGB"))
    assert grid.shape == (2 * 16 * 4, 3 * 16 * 4, 3)
    colours = keypoint_colours(2)
    assert len(set(colours)) == 2
    for row in range(2):
        for frame in range(3):
            for index, (u, v) in enumerate(keypoints_px[row, frame]):
                x, y = int((frame * 16 + u + 0.5) * 4), int((row * 16 + v + 0.5) * 4)
                ring = grid[y - 8 : y + 9, x - 8 : x + 9].reshape(-1, 3)
                assert (ring == colours[index]).all(axis=1).any(), (row, frame, index)
    assert (grid[:, 16 * 4 * 3 // 2 - 2 : 16 * 4 * 3 // 2 + 2] == 255).all()  # untouched between keypoints
