"""Evaluation metrics on hand-made cases whose answers are known."""
import math

import numpy as np
import pytest
from matplotlib.image import imread

from smrl_self_model.core.contingency import LABEL_SELF, LABEL_UNKNOWN, LABEL_WORLD
from smrl_self_model.core.evaluation import (
    draw_labelled_frames,
    labelling_report,
    labels_at_threshold,
    on_arm_fraction,
    precision_recall,
    sweep_self_threshold,
)
from smrl_common.core.pixel_coordinates import pixels_to_normalised
from smrl_self_model.core.pixel_distance import pixel_distance

WIDTH, HEIGHT = 8, 6


def arm_mask(num_frames):
    """The arm covers columns 2-3 of rows 1-4 in every frame."""
    mask = np.zeros((num_frames, HEIGHT, WIDTH), dtype=bool)
    mask[:, 1:5, 2:4] = True
    return mask


def test_on_arm_fraction_counts_frames_on_the_mask_with_a_one_pixel_tolerance():
    pixels_per_frame = np.array([
        # keypoint 0 on the arm; 1 on it in frames 0-1 only; 2 one pixel right of it; 3 far away
        [[2, 1], [3, 4], [4, 2], [7, 5]],
        [[3, 2], [2, 3], [4, 3], [7, 0]],
        [[2.4, 3.4], [6, 1], [4.3, 2], [0, 5]],
        [[3, 4], [7, 5], [4, 4], [6, 0]],
    ], dtype=float)
    centers = pixels_to_normalised(pixels_per_frame, WIDTH, HEIGHT)
    np.testing.assert_allclose(on_arm_fraction(centers, arm_mask(4)), [1.0, 0.5, 1.0, 0.0])
    np.testing.assert_allclose(on_arm_fraction(centers, arm_mask(4), tolerance_px=0), [1.0, 0.5, 0.0, 0.0])


def test_precision_and_recall_count_only_self_labels():
    truly_self = np.array([True, True, False, False, True])
    labels = np.array([LABEL_SELF, LABEL_WORLD, LABEL_SELF, LABEL_UNKNOWN, LABEL_SELF])
    precision, recall = precision_recall(truly_self, labels)
    assert math.isclose(precision, 2 / 3) and math.isclose(recall, 2 / 3)
    precision, recall = precision_recall(truly_self, np.full(5, LABEL_UNKNOWN))
    assert math.isnan(precision) and recall == 0.0


def test_labelling_report_rows_and_table():
    report = labelling_report(np.array([0.9, 0.5, 0.2]), np.array([0.8, 0.3, 0.6]),
                              np.array([LABEL_SELF, LABEL_WORLD, LABEL_SELF]), np.array([200, 180, 190]))
    assert [k.truly_self for k in report.keypoints] == [True, True, False]
    assert (report.precision, report.recall) == (0.5, 0.5)
    lines = report.table().splitlines()
    assert len(lines) == 5
    assert lines[2].split() == ["1", "0.50", "self", "0.30", "180", "world"]
    assert lines[-1] == "precision 0.50, recall 0.50"


def test_pixel_distance_scales_each_axis_by_half_the_image_size():
    np.testing.assert_allclose(pixel_distance([[0.0, 0.0], [0.0, 0.0]], [[0.5, 0.0], [0.3, 0.4]], (64, 48)),
                               [16.0, math.hypot(0.3 * 32, 0.4 * 24)])


def test_draw_labelled_frames_writes_a_png_with_the_label_colours(tmp_path):
    frames = np.full((3, 16, 16, 3), 255, dtype=np.uint8)
    centers = np.array([[[-0.5, -0.5], [0.5, 0.5]]] * 3)
    path = draw_labelled_frames(tmp_path / "strip" / "labels.png", frames, centers,
                                np.array([LABEL_SELF, LABEL_WORLD]))
    image = imread(path)[..., :3]
    assert image.shape[1] > image.shape[0]  # a horizontal strip
    for colour in ("#D55E00", "#0072B2"):
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        assert np.any(np.all(np.abs(image - rgb) < 0.05, axis=-1)), colour


def test_the_threshold_sweep_picks_the_middle_of_the_thresholds_best_for_the_worst_scene():
    scores = np.array([0.9, 0.6, 0.3, 0.1])
    labels = np.full(4, LABEL_WORLD)
    cases = {"one": (scores, labels, np.array([True, True, True, False])),   # perfect in (0.1, 0.3]
             "two": (scores, labels, np.array([True, True, False, False]))}  # perfect in (0.3, 0.6]
    sweep = sweep_self_threshold(cases, np.round(np.arange(0.1, 1.0, 0.1), 1))
    # No threshold suits both: from 0.2 to 0.6 one scene loses a third of precision or recall.
    assert sweep.worst.tolist() == pytest.approx([0.5, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3])
    assert sweep.best_threshold == pytest.approx(0.4)
    labels[3] = LABEL_UNKNOWN
    assert labels_at_threshold(scores, labels, 0.5).tolist() == [LABEL_SELF, LABEL_SELF, LABEL_WORLD, LABEL_UNKNOWN]
