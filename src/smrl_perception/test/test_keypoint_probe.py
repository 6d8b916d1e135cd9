"""The keypoint quality measures: linear probe, placement on arm/object/background, drawing."""
import numpy as np
import pytest
from PIL import Image

from smrl_perception.core.probe import (
    draw_keypoint_strip,
    ground_truth_points,
    keypoint_colours,
    keypoint_placement,
    linear_probe,
)


def test_keypoints_that_are_a_linear_function_of_the_truth_score_r2_one():
    rng = np.random.default_rng(0)
    end_effector_px = rng.uniform(0, 64, (300, 2))
    mixing = rng.normal(size=(2, 8 * 2))
    keypoints_px = (end_effector_px @ mixing + 5.0).reshape(300, 8, 2)
    score = linear_probe(keypoints_px, {"end_effector": end_effector_px})["end_effector"]
    assert score.r2 == pytest.approx(1.0, abs=1e-9)
    assert score.mean_error_px == pytest.approx(0.0, abs=1e-6)


def test_keypoints_that_are_noise_score_r2_near_zero():
    rng = np.random.default_rng(1)
    keypoints_px = rng.uniform(0, 64, (2000, 8, 2))
    score = linear_probe(keypoints_px, {"object": rng.uniform(0, 64, (2000, 2))})["object"]
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
    })
    assert scores["tracked"].r2 == pytest.approx(1.0)
    assert scores["untracked"].r2 < 0.1
    assert np.isnan(scores["base"].r2)  # a target that never moves has no variance to explain


def test_ground_truth_points_names_end_effector_object_and_links():
    episode = {
        "gt_ee_pixel": np.zeros((5, 2)),
        "gt_object_pixel": np.ones((5, 2)),
        "gt_link_pixels": np.arange(5 * 3 * 2, dtype=float).reshape(5, 3, 2),
    }
    points = ground_truth_points(episode)
    assert list(points) == ["end_effector", "object", "link_0", "link_1", "link_2"]
    np.testing.assert_array_equal(points["link_2"], episode["gt_link_pixels"][:, 2])


def test_placement_counts_where_each_keypoint_sits():
    frames, height, width = 4, 10, 10
    self_mask = np.zeros((frames, height, width), bool)
    self_mask[:, :, :5] = True                    # arm: left half (columns 0..4)
    object_mask = np.zeros_like(self_mask)
    object_mask[:, 8:, 8:] = True                 # object: bottom right corner
    keypoints_px = np.zeros((frames, 3, 2))
    keypoints_px[:, 0] = (4.4, 5)                 # nearest pixel column 4: arm
    keypoints_px[:, 1] = [(9, 9), (9, 9), (9, 9), (4.6, 0)]  # object 3 times, then column 5: background
    keypoints_px[:, 2] = (-3, 2)                  # outside the image: clipped to column 0, arm
    placement = keypoint_placement(keypoints_px, self_mask, object_mask)
    np.testing.assert_allclose(placement.on_arm, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(placement.on_object, [0.0, 0.75, 0.0])
    np.testing.assert_allclose(placement.on_background, [0.0, 0.25, 0.0])
    assert list(placement.mostly()) == ["arm", "object", "arm"]
    assert placement.counts() == {"arm": 2, "object": 1, "background": 0}


def test_keypoint_strip_is_upscaled_and_marks_each_keypoint_in_its_colour(tmp_path):
    frames = np.full((3, 16, 16, 3), 255, dtype=np.uint8)
    keypoints_px = np.array([[[3.0, 3.0], [12.0, 12.0]]] * 3)
    path = draw_keypoint_strip(frames, keypoints_px, tmp_path / "strip.png", scale=4)
    strip = np.asarray(Image.open(path).convert("RGB"))
    assert strip.shape == (16 * 4, 3 * 16 * 4, 3)
    colours = keypoint_colours(2)
    assert len(set(colours)) == 2
    for frame in range(3):
        for index, (u, v) in enumerate(keypoints_px[frame]):
            x, y = int((frame * 16 + u + 0.5) * 4), int((v + 0.5) * 4)
            ring = strip[y - 8 : y + 9, x - 8 : x + 9].reshape(-1, 3)
            assert (ring == colours[index]).all(axis=1).any(), (frame, index)
    assert (strip[:, 16 * 4 * 3 // 2 - 2 : 16 * 4 * 3 // 2 + 2] == 255).all()  # untouched between keypoints
