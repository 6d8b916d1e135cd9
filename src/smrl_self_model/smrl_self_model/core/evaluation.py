"""How well the self model did, measured against the simulator's ground truth.

The `gt_*` arrays of an episode are read here only, never by a learner (architecture.md).

True labels. A keypoint is truly self when it lies on the agent's arm (`gt_self_mask`) in at least
half the frames. "Lies on" = the mask is set at its nearest pixel or within `tolerance_px` of it
(a square window). One pixel, because a keypoint is a sub-pixel estimate and keypoint models like
to sit on outlines, where the image changes most: with sub-pixel jitter the nearest pixel of a
keypoint on the arm's edge flips between arm and background. More would call background next to a
thin link self (a link is ~3 px wide at 64 px). A keypoint on the arm's static base is truly self
but, never moving, cannot be told from background by contingency: expect it among the misses.

Scores. Precision and recall of the LABEL_SELF predictions (unknown counts as not self); the
body schema's error in pixels on frames it was not trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke

from smrl_common.core.pixel_coordinates import normalised_to_pixels
from smrl_self_model.core.contingency import (
    LABEL_SELF,
    LABEL_UNKNOWN,
    LABEL_WORLD,
    ContingencyConfig,
    judge_frames,
)


def on_arm_fraction(centers: np.ndarray, gt_self_mask: np.ndarray, tolerance_px: int = 1) -> np.ndarray:
    """Per keypoint, the fraction of frames it lies on the arm: centres (T, K, 2), mask (T, H, W) -> (K,)."""
    return on_arm(centers, gt_self_mask, tolerance_px).mean(axis=0)


def on_arm(centers: np.ndarray, gt_self_mask: np.ndarray, tolerance_px: int = 1) -> np.ndarray:
    """Per frame and keypoint, whether it lies on the arm: centres (T, K, 2), mask (T, H, W) -> (T, K) bool."""
    num_frames, height, width = gt_self_mask.shape
    nearest = np.rint(normalised_to_pixels(centers, width, height)).astype(np.int64)  # (T, K, 2) (u, v)
    offsets = np.arange(-tolerance_px, tolerance_px + 1)
    u = np.clip(nearest[..., 0, None, None] + offsets[None, :], 0, width - 1)   # (T, K, 1, w)
    v = np.clip(nearest[..., 1, None, None] + offsets[:, None], 0, height - 1)  # (T, K, w, 1)
    frames = np.arange(num_frames)[:, None, None, None]
    return gt_self_mask[frames, v, u].any(axis=(-2, -1))


def precision_recall(truly_self: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Of the keypoints labelled self, the fraction truly self; of those truly self, the fraction
    labelled self. NaN where undefined (nothing labelled, or nothing truly self)."""
    predicted_self = np.asarray(labels) == LABEL_SELF
    truly_self = np.asarray(truly_self, dtype=bool)
    hits = np.sum(predicted_self & truly_self)
    precision = hits / predicted_self.sum() if predicted_self.any() else float("nan")
    recall = hits / truly_self.sum() if truly_self.any() else float("nan")
    return float(precision), float(recall)


@dataclass
class KeypointResult:
    keypoint: int
    on_arm_fraction: float  # ground truth
    truly_self: bool
    score: float            # the labeller's
    label: int              # LABEL_*
    evidence_samples: int   # the labeller's samples behind the label


@dataclass
class LabellingReport:
    keypoints: list[KeypointResult]
    precision: float
    recall: float

    def table(self) -> str:
        """A plain-text table, one row per keypoint, then precision and recall."""
        names = {LABEL_UNKNOWN: "unknown", LABEL_SELF: "self", LABEL_WORLD: "world"}
        rows = ["keypoint  on-arm  truth  score  evidence  label"]
        rows += [f"{k.keypoint:8d}  {k.on_arm_fraction:6.2f}  {'self' if k.truly_self else 'world':5s}  "
                 f"{k.score:5.2f}  {k.evidence_samples:8d}  {names[k.label]}" for k in self.keypoints]
        rows.append(f"precision {self.precision:.2f}, recall {self.recall:.2f}")
        return "\n".join(rows)


def labelling_report(on_arm: np.ndarray, scores: np.ndarray, labels: np.ndarray, evidence_samples: np.ndarray,
                     min_on_arm_fraction: float = 0.5) -> LabellingReport:
    """Compare the labeller's (K,) scores, labels and evidence with the (K,) on-arm fractions."""
    truly_self = np.asarray(on_arm) >= min_on_arm_fraction
    precision, recall = precision_recall(truly_self, labels)
    keypoints = [KeypointResult(i, float(on_arm[i]), bool(truly_self[i]), float(scores[i]), int(labels[i]),
                                int(evidence_samples[i])) for i in range(len(on_arm))]
    return LabellingReport(keypoints, precision, recall)


def labels_at_threshold(scores: np.ndarray, labels: np.ndarray, self_threshold: float) -> np.ndarray:
    """(K,) the labels the labeller would give with another `self_threshold` (> 0): unknown stays
    unknown, the rest are self where the score reaches it (keypoints that did not move score 0)."""
    return np.where(labels == LABEL_UNKNOWN, LABEL_UNKNOWN,
                    np.where(np.asarray(scores) >= self_threshold, LABEL_SELF, LABEL_WORLD)).astype(np.uint8)


@dataclass
class ThresholdSweep:
    thresholds: np.ndarray        # (M,)
    precision: dict[str, np.ndarray]  # scene -> (M,)
    recall: dict[str, np.ndarray]     # scene -> (M,)
    worst: np.ndarray             # (M,) the lowest precision or recall over the scenes (undefined = 0)
    best_threshold: float         # the middle of the longest run of thresholds with the highest `worst`


def sweep_self_threshold(cases: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                         thresholds: np.ndarray) -> ThresholdSweep:
    """Precision and recall per scene at each threshold; `cases`: scene -> (scores, labels, truly_self).

    For tuning on episodes other than those scored: one labeller must serve every scene, so the
    best thresholds are those whose worst scene does best, and of the longest run of them the
    middle (furthest from both ways of failing) is chosen.
    """
    precision, recall = {}, {}
    for scene, (scores, labels, truly_self) in cases.items():
        pairs = np.array([precision_recall(truly_self, labels_at_threshold(scores, labels, t)) for t in thresholds])
        precision[scene], recall[scene] = pairs[:, 0], pairs[:, 1]
    worst = np.nan_to_num(np.min([np.minimum(precision[s], recall[s]) for s in cases], axis=0), nan=0.0)
    runs, start = [], None  # [first, last] index of each run of best thresholds
    for i, is_best in enumerate(np.append(worst == worst.max(), False)):
        if is_best and start is None:
            start = i
        elif not is_best and start is not None:
            runs.append((start, i - 1))
            start = None
    first, last = max(runs, key=lambda run: run[1] - run[0])
    return ThresholdSweep(thresholds, precision, recall, worst, float((thresholds[first] + thresholds[last]) / 2))


@dataclass
class FrameEvidence:
    """What the per-frame rule (contingency.judge_frames) decides from, for N frames of K keypoints,
    with the ground truth beside it; thresholds can be swept without labelling again."""
    distances: np.ndarray        # (N, K) normalised, to the position model's place for the frame's joints
    scores: np.ndarray           # (N, K) the labeller's score in effect at that frame
    keypoint_labels: np.ndarray  # (N, K) the labeller's per-keypoint label in effect at that frame
    truly_self: np.ndarray       # (N, K) bool: the keypoint lies on the agent's arm in that frame

    @classmethod
    def concatenate(cls, parts: list["FrameEvidence"]) -> "FrameEvidence":
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in (
            "distances", "scores", "keypoint_labels", "truly_self")))

    def labels(self, config: ContingencyConfig) -> np.ndarray:
        return judge_frames(self.distances, self.scores, self.keypoint_labels, config)


@dataclass
class FrameReport:
    """Per keypoint-frame scores of "self" (unknown counts as not self), and the baseline that calls
    every keypoint self in every frame: its precision is the fraction of keypoint-frames on the arm."""
    keypoint_frames: int
    precision: float
    recall: float
    all_self_precision: float
    per_keypoint_truly_self: list[float]    # fraction of frames on the arm
    per_keypoint_labelled_self: list[float]  # fraction of frames labelled self

    @classmethod
    def of(cls, truly_self: np.ndarray, labels: np.ndarray) -> "FrameReport":
        precision, recall = precision_recall(truly_self, labels)
        return cls(int(truly_self.size), precision, recall, float(truly_self.mean()),
                   truly_self.mean(axis=0).tolist(), (labels == LABEL_SELF).mean(axis=0).tolist())


def sweep_frame_rule(evidence: dict[str, FrameEvidence], config: ContingencyConfig, radii: np.ndarray,
                     min_scores: np.ndarray) -> dict:
    """Per-frame precision and recall over (radius, minimum score) pairs; the pair whose worst scene
    does best is `best` (ties: the first, i.e. the smallest radius and score). For tuning on
    validation episodes, never the scored ones."""
    rows = []
    for radius in radii:
        for min_score in min_scores:
            trial = replace(config, frame_self_radius=float(radius), frame_min_score=float(min_score))
            scores = {scene: precision_recall(e.truly_self, e.labels(trial)) for scene, e in evidence.items()}
            worst = float(np.nan_to_num(min(min(p, r) for p, r in scores.values()), nan=0.0))
            rows.append({"frame_self_radius": float(radius), "frame_min_score": float(min_score),
                         "worst_scene_min_precision_recall": worst,
                         "precision": {s: v[0] for s, v in scores.items()}, "recall": {s: v[1] for s, v in scores.items()}})
    best = max(rows, key=lambda row: row["worst_scene_min_precision_recall"])
    return {"grid": rows, "best": {k: best[k] for k in ("frame_self_radius", "frame_min_score",
                                                        "worst_scene_min_precision_recall")}}


LABEL_STYLES = {  # colour-blind-safe colours (Okabe-Ito), and distinct markers too
    LABEL_SELF: dict(color="#D55E00", marker="o", label="self"),
    LABEL_WORLD: dict(color="#0072B2", marker="s", label="world"),
    LABEL_UNKNOWN: dict(color="#999999", marker="x", label="unknown"),
}


def draw_labelled_frames(path: Path | str, rgb_frames: np.ndarray, centers: np.ndarray, labels: np.ndarray,
                         upscale: int = 4, title: str = "") -> Path:
    """A PNG strip of frames (N, H, W, 3) uint8 with their keypoints (N, K, 2) coloured by label.

    `labels` is (K,) for one labelling of all frames, or (N, K) for each frame's own.
    Frames are enlarged `upscale` times with nearest-neighbour pixels, so what the model saw stays
    visible; each keypoint carries its index, as in the report's table, and a white halo.
    """
    num_frames, height, width, _ = rgb_frames.shape
    labels = np.broadcast_to(labels, centers.shape[:2])
    figure = Figure(figsize=(2.2 * num_frames, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    for i in range(num_frames):
        axes = figure.add_subplot(1, num_frames, i + 1)
        axes.imshow(np.repeat(np.repeat(rgb_frames[i], upscale, axis=0), upscale, axis=1))
        pixels = normalised_to_pixels(centers[i], width, height) * upscale + (upscale - 1) / 2
        for k, ((u, v), label) in enumerate(zip(pixels, labels[i])):
            style = LABEL_STYLES[int(label)]
            axes.plot(u, v, marker=style["marker"], color=style["color"], markersize=7, markeredgewidth=2,
                      fillstyle="none", linestyle="none", path_effects=[withStroke(linewidth=4, foreground="white")])
            axes.annotate(str(k), (u, v), xytext=(4, 4), textcoords="offset points", fontsize=7, color=style["color"])
        axes.set_axis_off()
    legend = [Line2D([], [], marker=s["marker"], color=s["color"], fillstyle="none", linestyle="none", label=s["label"])
              for s in LABEL_STYLES.values()]
    figure.legend(handles=legend, loc="lower center", ncol=3, frameon=False)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
