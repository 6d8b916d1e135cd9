"""Evaluate the self model, and train the one shipped: `./smrl evaluate-self-model [--out DIR]`.

Per scene S (SCENES: the Panda's plain, push, distractor, distractor_30hz and carry, the KUKA
iiwa's kuka_plain, kuka_push and kuka_distractor) it reads `<data>/train_S` and `<data>/eval_S`
(episode datasets from `./smrl collect`; a missing one is collected first, as SCENE_COLLECTION and
DATASETS say: motor babbling, 60 train episodes of seed 0 and 12 held-out ones of seed 1, 64 x 64
px frames 0.1 s apart, or 1/30 s in distractor_30hz, the live camera's rate; in carry the arm
grasps the object and babbles holding it) and:

1. runs the arm's keypoint model (default: the one shipped for it) over every episode;
2. labels the keypoints with the contingency labeller, per keypoint (living through the train
   episodes, then the held-out ones; and the held-out ones alone), scored against `gt_self_mask`
   (a keypoint is truly self when on the arm in most frames), and
3. per keypoint and frame (contingency.judge_frames), online: after the train episodes, each
   held-out episode is judged with the labeller as it was before that episode, then lived
   through. Scored per keypoint-frame (truly self = on the agent's arm in that frame), beside the
   "all self" baseline. In carry the object in the hand is scored both ways: as world (strict)
   and as self while held (tool embodiment);
4. draws held-out episode 0 with the keypoints coloured by their per-frame labels (`self_model_S.png`).

Thresholds come from train episodes only: the per-keypoint `self_threshold` from a sweep over the
train episodes (`threshold_sweep_on_train`); the per-frame radius and minimum score from a sweep on
a validation split (the labeller lives through the first train episodes and judges the last
VALIDATION_EPISODES; `frame_rule_sweep_on_validation`). The held-out scores use the configured
values (ContingencyConfig's defaults, set from these sweeps, or the command line).

Then, on the train episodes of the MODEL_SCENES (the Panda's, 0.1 s apart), the body schema
(joints -> self keypoints) and the forward model (self state + command -> next self state) are
trained on the keypoints labelled self in every one of those scenes, saved (`body_schema.pt`,
`forward_model.pt`) and scored on each such scene's held-out episodes in pixels, next to a
baseline (the mean pose; no motion); the body schema also against the true end effector and link
pixels, through a linear map from its predicted keypoints fitted on the train episodes.
Writes `evaluation.json`; prints progress and a summary. Only this evaluation reads `gt_*`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from smrl_perception.core.checkpoint import CheckpointError, model_file_sha256, shipped_model_file
from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_self_model.core.body_schema import train_body_schema
from smrl_self_model.core.contingency import LABEL_SELF, ContingencyConfig, ContingencyLabeller, label_episodes
from smrl_self_model.core.ensemble_regression import TrainingConfig
from smrl_self_model.core.evaluation import (
    FrameEvidence,
    FrameReport,
    LabellingReport,
    ThresholdSweep,
    draw_labelled_frames,
    labelling_report,
    on_arm,
    on_arm_fraction,
    sweep_frame_rule,
    sweep_self_threshold,
)
from smrl_self_model.core.forward_model import Transitions, train_forward_model
from smrl_self_model.core.pixel_distance import pixel_distance
from smrl_sim.core.collect import CollectConfig, collect
from smrl_sim.core.episode_dataset import DatasetError, iter_episodes, read_metadata
from smrl_sim.core.robot_config import load_robot_config

SCENES = ("plain", "push", "distractor", "distractor_30hz", "carry", "kuka_plain", "kuka_push", "kuka_distractor")
#: How each scene's datasets are collected when missing: scene -> CollectConfig options.
#: distractor_30hz has the same 6 s episodes framed at the sim node's camera rate, as the live node
#: sees them: the labeller must not depend on the frame rate. carry: 10 s episodes, the object in
#: the hand in ~75 % of the frames. The KUKA iiwa cannot carry (its gripper picked 0 of 10).
SCENE_COLLECTION = {"plain": {}, "push": {"push_object": True}, "distractor": {"distractor_arm": True},
                    "distractor_30hz": {"distractor_arm": True, "control_period_s": 1 / 30, "frames": 180},
                    "carry": {"carry_object": True, "frames": 100},
                    "kuka_plain": {"scene": "kuka"}, "kuka_push": {"scene": "kuka", "push_object": True},
                    "kuka_distractor": {"scene": "kuka", "distractor_arm": True}}
#: Scenes the body schema and forward model learn from and are scored on: one step of the forward
#: model is one 0.1 s control period, the period of these datasets (and of the policies).
MODEL_SCENES = ("plain", "push", "distractor")
#: split -> (episodes, seed): the held-out episodes are of another seed than the train ones.
DATASETS = {"train": (60, 0), "eval": (12, 1)}
#: The last train episodes of each scene, judged after the others to choose the per-frame thresholds
#: (at most a fifth of them).
VALIDATION_EPISODES = 12
#: The per-frame rule's sweep: radius (normalised; x 32 = px at 64 px) and minimum score.
FRAME_RADII = np.round(np.arange(0.04, 0.321, 0.02), 2)
FRAME_MIN_SCORES = np.round(np.concatenate([[0.02], np.arange(0.05, 0.501, 0.05)]), 2)


@dataclass(frozen=True)
class EvaluationConfig:
    data: Path = Path("outputs/datasets")
    scenes: tuple[str, ...] = SCENES
    keypoints: tuple[tuple[str, str], ...] = ()  # (robot, checkpoint) pairs; a robot not named: its shipped model
    out: Path = Path("outputs/self_model")
    min_evidence_samples: int = ContingencyConfig.min_evidence_samples
    self_threshold: float = ContingencyConfig.self_threshold
    frame_self_radius: float = ContingencyConfig.frame_self_radius
    frame_min_score: float = ContingencyConfig.frame_min_score
    strip_frames: int = 8
    threads: int = 1


@dataclass
class EpisodeKeypoints:
    """A dataset's episodes through the keypoint model: lists over episodes of (T, ...) arrays."""
    centers: list[np.ndarray]              # (T, K, 2) normalised
    intensities: list[np.ndarray]          # (T, K)
    joint_positions_rad: list[np.ndarray]  # (T, n)
    joint_targets_rad: list[np.ndarray]    # (T, n)
    self_masks: list[np.ndarray]           # (T, H, W) bool, ground truth: for scoring only
    held_object_masks: list[np.ndarray]    # (T, H, W) bool: the object's pixels while in the hand (scoring)
    ground_truth_pixels: list[np.ndarray]  # (T, 1 + links, 2) end effector and link pixels (scoring)
    first_rgb: np.ndarray                  # (T, H, W, 3) of episode 0, for the strip
    joint_names: list[str]

    @property
    def image_size_px(self) -> tuple[int, int]:
        height, width = self.first_rgb.shape[1:3]
        return width, height

    @property
    def all_centers(self) -> np.ndarray:
        return np.concatenate(self.centers)

    @property
    def all_joint_positions_rad(self) -> np.ndarray:
        return np.concatenate(self.joint_positions_rad)


def collect_missing_datasets(data: Path, scenes: tuple[str, ...]) -> None:
    """Collect `<data>/<split>_<scene>` as DATASETS says where the folder does not exist (a folder
    that exists is used as it is: a broken one fails loudly when read)."""
    for scene in scenes:
        for split, (episodes, seed) in DATASETS.items():
            folder = data / f"{split}_{scene}"
            if folder.exists():
                continue
            if scene not in SCENE_COLLECTION:
                raise DatasetError(f"{folder}: missing, and {scene!r} is not a scene this command can collect "
                                   f"({', '.join(SCENE_COLLECTION)}); collect it with ./smrl collect")
            print(f"{folder} is missing: collecting it ({episodes} episodes, seed {seed})...", flush=True)
            collect(CollectConfig(out=folder, episodes=episodes, seed=seed, **SCENE_COLLECTION[scene]))


@dataclass
class KeypointModel:
    detector: KeypointDetector
    path: Path
    sha256: str


def load_keypoint_models(robots: set[str], checkpoints: dict[str, str]) -> dict[str, KeypointModel]:
    """Each robot's keypoint model: its checkpoint from `checkpoints`, else the one shipped for it."""
    models = {}
    for robot in sorted(robots):
        if checkpoints.get(robot):
            path = Path(checkpoints[robot])
        else:
            with shipped_model_file(robot) as shipped:
                path = shipped
        detector = KeypointDetector.from_checkpoint(path)
        models[robot] = KeypointModel(detector, path, model_file_sha256(path))
        print(f"keypoint model for {robot}: {path} ({detector.num_keypoints} keypoints)", flush=True)
    return models


def dataset_robot(folder: Path) -> str:
    return read_metadata(folder)["robot"]


def detect_dataset(detector: KeypointDetector, folder: Path) -> EpisodeKeypoints:
    joint_names = list(load_robot_config(dataset_robot(folder)).joint_names)
    keys = ("rgb", "joint_positions", "joint_targets", "gt_self_mask", "gt_object_mask", "gt_ee_pixel",
            "gt_link_pixels")
    data = EpisodeKeypoints([], [], [], [], [], [], [], np.empty(0), joint_names)
    episodes = list(iter_episodes(folder, keys, optional=("gt_object_in_hand",)))  # older datasets lack it
    for _, episode in tqdm(episodes, desc=f"keypoints {folder.name}", unit="episode"):
        keypoints = detector.detect(episode["rgb"])
        data.centers.append(keypoints.normalised)
        data.intensities.append(keypoints.intensities)
        data.joint_positions_rad.append(episode["joint_positions"].astype(np.float64))
        data.joint_targets_rad.append(episode["joint_targets"].astype(np.float64))
        data.self_masks.append(episode["gt_self_mask"])
        in_hand = episode.get("gt_object_in_hand", np.zeros(len(episode["rgb"]), dtype=bool))
        data.held_object_masks.append(episode["gt_object_mask"] & in_hand[:, None, None])
        data.ground_truth_pixels.append(np.concatenate([episode["gt_ee_pixel"][:, None], episode["gt_link_pixels"]],
                                                       axis=1).astype(np.float64))
        if not data.first_rgb.size:
            data.first_rgb = episode["rgb"]
    return data


def score_labelling(episodes: list[EpisodeKeypoints], scored: EpisodeKeypoints,
                    config: ContingencyConfig) -> LabellingReport:
    """Live through `episodes` in order, then score the labels on `scored`'s ground truth."""
    labeller = label_episodes(*(sum((getattr(e, name) for e in episodes), [])
                                for name in ("centers", "intensities", "joint_positions_rad")), config)
    on_arm_fractions = on_arm_fraction(scored.all_centers, np.concatenate(scored.self_masks))
    return labelling_report(on_arm_fractions, labeller.scores, labeller.labels, labeller.evidence_samples)


def judge_online(lived: EpisodeKeypoints, judged: EpisodeKeypoints, config: ContingencyConfig,
                 episodes: range | None = None) -> tuple[FrameEvidence, FrameEvidence]:
    """Live through `lived`; then judge `judged`'s `episodes` (default: all) one by one, each with
    the labeller as it was before it (refreshed), and live through it. Online: no frame is judged
    with evidence from its own episode or a later one. Returns the evidence with two truths: on
    the agent's arm; and on the arm or on the object while it is in the hand (tool embodiment)."""
    labeller = ContingencyLabeller(lived.centers[0].shape[1], len(lived.joint_names), config)
    for episode in zip(lived.centers, lived.intensities, lived.joint_positions_rad, strict=True):
        labeller.update_episode(*episode)
    strict, tool = [], []
    for e in episodes if episodes is not None else range(len(judged.centers)):
        labeller.refresh()
        centers, model = judged.centers[e], labeller.position_model
        distances = (model.distances(centers, judged.joint_positions_rad[e]) if model is not None
                     else np.full(centers.shape[:2], np.inf))
        frames = len(centers)
        strict.append(FrameEvidence(distances, np.tile(labeller.scores, (frames, 1)),
                                    np.tile(labeller.labels, (frames, 1)), on_arm(centers, judged.self_masks[e])))
        tool.append(on_arm(centers, judged.self_masks[e] | judged.held_object_masks[e]))
        labeller.update_episode(judged.centers[e], judged.intensities[e], judged.joint_positions_rad[e])
    evidence = FrameEvidence.concatenate(strict)
    return evidence, replace(evidence, truly_self=np.concatenate(tool))


def split_validation(data: EpisodeKeypoints, count: int) -> tuple[EpisodeKeypoints, EpisodeKeypoints]:
    """(all but the last `count` episodes, the last `count`)."""
    names = ("centers", "intensities", "joint_positions_rad", "joint_targets_rad", "self_masks",
             "held_object_masks", "ground_truth_pixels")
    return (replace(data, **{name: getattr(data, name)[:-count] for name in names}),
            replace(data, **{name: getattr(data, name)[-count:] for name in names}))


def sweep_on(reports: dict[str, LabellingReport], configured_threshold: float) -> ThresholdSweep:
    """The threshold sweep over labelling reports (scene -> report), the configured threshold included."""
    cases = {scene: tuple(np.array([getattr(k, name) for k in report.keypoints])
                          for name in ("score", "label", "truly_self")) for scene, report in reports.items()}
    thresholds = np.union1d(np.round(np.arange(0.05, 0.951, 0.05), 2), [configured_threshold])
    return sweep_self_threshold(cases, thresholds)


def transitions(data: EpisodeKeypoints, self_keypoints: list[int]) -> Transitions:
    return Transitions.concatenate([Transitions.from_episode(c[:, self_keypoints], q, u) for c, q, u in zip(
        data.centers, data.joint_positions_rad, data.joint_targets_rad)])


def error_summary(errors_px: np.ndarray, baseline_px: np.ndarray) -> dict:
    """errors (N, K_self) px -> mean, median, per keypoint, and the baseline's mean."""
    return {"mean_px": float(errors_px.mean()), "median_px": float(np.median(errors_px)),
            "per_keypoint_mean_px": errors_px.mean(axis=0).tolist(), "baseline_mean_px": float(baseline_px.mean())}


def train_and_score_models(train: dict[str, EpisodeKeypoints], held_out: dict[str, EpisodeKeypoints],
                           self_keypoints: list[int], keypoint_sha256: str, out: Path) -> dict:
    """Body schema and forward model on `self_keypoints` over all train episodes; scored per scene."""
    if not train:
        reason = f"none of the scenes {', '.join(MODEL_SCENES)} was evaluated"
        print(f"body schema and forward model: skipped ({reason})", flush=True)
        return {"self_keypoints": self_keypoints, "skipped": reason}
    pooled = EpisodeKeypoints(*(sum((getattr(d, name) for d in train.values()), []) for name in (
        "centers", "intensities", "joint_positions_rad", "joint_targets_rad", "self_masks", "held_object_masks",
        "ground_truth_pixels")), first_rgb=next(iter(train.values())).first_rgb,
        joint_names=next(iter(train.values())).joint_names)
    result: dict = {"self_keypoints": self_keypoints, "train_frames": len(pooled.all_centers)}
    if not self_keypoints:
        result["skipped"] = "no keypoint was labelled self in the train episodes of every scene"
        print(f"body schema and forward model: skipped ({result['skipped']})", flush=True)
        return result
    num_keypoints = pooled.centers[0].shape[1]
    frames_per_episode = len(pooled.centers[0])
    print(f"training the body schema on keypoints {self_keypoints}...", flush=True)
    schema, schema_log = train_body_schema(
        pooled.all_joint_positions_rad, pooled.all_centers, self_keypoints, pooled.joint_names,
        config=TrainingConfig(validation_block_frames=frames_per_episode), keypoint_model_sha256=keypoint_sha256)
    schema.save(out / "body_schema.pt")
    print(f"training the forward model ensemble on {len(pooled.centers)} episodes of transitions...", flush=True)
    forward, forward_log = train_forward_model(
        transitions(pooled, self_keypoints), pooled.joint_names, num_keypoints, self_keypoints,
        config=TrainingConfig(validation_block_frames=frames_per_episode - 1), keypoint_model_sha256=keypoint_sha256)
    forward.save(out / "forward_model.pt")
    mean_pose = pooled.all_centers[:, self_keypoints].mean(axis=0)
    to_truth = TruthMap.fit(schema.predict(pooled.all_joint_positions_rad), np.concatenate(pooled.ground_truth_pixels))
    result.update(body_schema={"best_epoch": schema_log.best_epoch, "scenes": {}},
                  forward_model={"best_epoch": forward_log.best_epoch, "scenes": {}})
    for scene, data in held_out.items():
        size = data.image_size_px
        observed = data.all_centers[:, self_keypoints]
        result["body_schema"]["scenes"][scene] = error_summary(
            schema.prediction_errors_px(data.all_joint_positions_rad, data.all_centers, size),
            pixel_distance(mean_pose, observed, size))
        result["body_schema"]["scenes"][scene]["against_simulator"] = to_truth.errors_px(
            schema.predict(data.all_joint_positions_rad), np.concatenate(data.ground_truth_pixels))
        steps = transitions(data, self_keypoints)
        predicted, _ = forward.predict(steps.self_keypoints, steps.joint_positions_rad, steps.joint_command_change_rad)
        result["forward_model"]["scenes"][scene] = error_summary(
            pixel_distance(predicted, steps.next_self_keypoints, size),
            pixel_distance(steps.self_keypoints, steps.next_self_keypoints, size))
    return result


@dataclass
class TruthMap:
    """A linear map (least squares, fitted on train frames) from the body schema's predicted
    keypoints to the simulator's true end effector and link pixels: how well what the agent
    learned of its body locates the real thing, which the keypoints themselves only sample."""
    weights: np.ndarray      # (K_self * 2 + 1, P * 2)
    mean_truth: np.ndarray   # (P, 2) px: the baseline that knows only where things are on average

    @staticmethod
    def features(predicted: np.ndarray) -> np.ndarray:
        return np.concatenate([predicted.reshape(len(predicted), -1), np.ones((len(predicted), 1))], axis=1)

    @classmethod
    def fit(cls, predicted: np.ndarray, truth_px: np.ndarray) -> "TruthMap":
        """predicted (N, K_self, 2) normalised, truth_px (N, P, 2): end effector first, then the links."""
        weights, *_ = np.linalg.lstsq(cls.features(predicted), truth_px.reshape(len(truth_px), -1), rcond=None)
        return cls(weights, truth_px.mean(axis=0))

    def errors_px(self, predicted: np.ndarray, truth_px: np.ndarray) -> dict:
        estimate = (self.features(predicted) @ self.weights).reshape(truth_px.shape)
        errors = np.linalg.norm(estimate - truth_px, axis=-1)                  # (N, P)
        baseline = np.linalg.norm(self.mean_truth - truth_px, axis=-1)
        moving = truth_px.std(axis=0).max(axis=-1) >= 0.5                     # links that move by >= 0.5 px
        return {"end_effector_mean_px": float(errors[:, 0].mean()),
                "end_effector_baseline_mean_px": float(baseline[:, 0].mean()),
                "moving_links_mean_px": float(errors[:, moving].mean()),
                "moving_links_baseline_mean_px": float(baseline[:, moving].mean())}


def report_json(report: LabellingReport) -> dict:
    return {"precision": report.precision, "recall": report.recall,
            "keypoints": [dataclasses.asdict(k) for k in report.keypoints]}


def finite_or_none(value):
    """JSON has no NaN: undefined scores (e.g. precision with nothing labelled self) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def summary_table(result: dict) -> str:
    """Per scene: per keypoint-frame precision / recall of self and the all-self baseline's precision
    (its recall is 1); the per-keypoint labels' precision / recall; the body schema's errors."""
    rows = [f"{'scene':16s} {'per frame P / R':>15s} {'all-self P':>10s}   {'per keypoint P / R':>18s}   "
            f"{'schema px (mean pose)':>21s}   {'hand px vs simulator (mean)':>27s}"]
    models = result["models"]
    for scene, scores in result["scenes"].items():
        frame, keypoint = scores["per_frame"], scores["with_experience"]
        schema = models.get("body_schema", {}).get("scenes", {}).get(scene)
        row = (f"{scene:16s} {frame['precision']:7.3f} / {frame['recall']:5.3f} {frame['all_self_precision']:10.3f}   "
               f"{keypoint['precision']:10.2f} / {keypoint['recall']:5.2f}   ")
        if schema:
            truth = schema["against_simulator"]
            row += (f"{schema['mean_px']:12.2f} ({schema['baseline_mean_px']:5.2f})   "
                    f"{truth['end_effector_mean_px']:19.2f} ({truth['end_effector_baseline_mean_px']:5.2f})")
        rows.append(row)
        if "per_frame_tool" in scores:
            tool = scores["per_frame_tool"]
            rows.append(f"{'  object as tool':16s} {tool['precision']:7.3f} / {tool['recall']:5.3f} "
                        f"{tool['all_self_precision']:10.3f}")
    return "\n".join(rows)


def evaluate(config: EvaluationConfig) -> dict:
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    labeller_config = ContingencyConfig(min_evidence_samples=config.min_evidence_samples,
                                        self_threshold=config.self_threshold,
                                        frame_self_radius=config.frame_self_radius,
                                        frame_min_score=config.frame_min_score)
    config.out.mkdir(parents=True, exist_ok=True)
    collect_missing_datasets(config.data, config.scenes)
    robots = {scene: dataset_robot(config.data / f"train_{scene}") for scene in config.scenes}
    keypoint_models = load_keypoint_models(set(robots.values()), dict(config.keypoints))
    train, held_out = {}, {}
    for scene in config.scenes:
        detector = keypoint_models[robots[scene]].detector
        train[scene] = detect_dataset(detector, config.data / f"train_{scene}")
        held_out[scene] = detect_dataset(detector, config.data / f"eval_{scene}")
    print("labelling each scene's train episodes (for tuning, and for the body schema)...", flush=True)
    train_reports = {scene: score_labelling([data], data, labeller_config) for scene, data in train.items()}
    sweep = sweep_on(train_reports, labeller_config.self_threshold)
    used = sweep.worst[sweep.thresholds == labeller_config.self_threshold][0]
    print(f"self threshold {labeller_config.self_threshold}: on the train episodes the worst scene's min(precision, "
          f"recall) is {used:.2f}; the best threshold there is {sweep.best_threshold} ({sweep.worst.max():.2f})",
          flush=True)
    print(f"per-frame rule: judging the last {VALIDATION_EPISODES} train episodes of each scene (validation)...",
          flush=True)
    validation = {}
    for scene, data in train.items():
        fitting, judged = split_validation(data, max(1, min(VALIDATION_EPISODES, len(data.centers) // 5)))
        validation[scene], _ = judge_online(fitting, judged, labeller_config)
    frame_sweep = sweep_frame_rule(validation, labeller_config, FRAME_RADII, FRAME_MIN_SCORES)
    best = frame_sweep["best"]
    print(f"per-frame rule on validation: radius {best['frame_self_radius']}, minimum score "
          f"{best['frame_min_score']} is best (worst scene's min(precision, recall) "
          f"{best['worst_scene_min_precision_recall']:.3f}); configured: radius {labeller_config.frame_self_radius}, "
          f"minimum score {labeller_config.frame_min_score}", flush=True)
    result: dict = {"keypoint_models": {robot: {"path": str(m.path), "sha256": m.sha256}
                                        for robot, m in keypoint_models.items()},
                    "labeller": dataclasses.asdict(labeller_config),
                    "threshold_sweep_on_train": {
                        "thresholds": sweep.thresholds.tolist(), "best_threshold": sweep.best_threshold,
                        "worst_scene_min_precision_recall": sweep.worst.tolist(),
                        "precision": {k: v.tolist() for k, v in sweep.precision.items()},
                        "recall": {k: v.tolist() for k, v in sweep.recall.items()}},
                    "frame_rule_sweep_on_validation": frame_sweep,
                    "scenes": {}}
    for scene in config.scenes:
        print(f"labelling {scene}: per keypoint (train then held-out episodes, and held-out alone), "
              f"and per frame online...", flush=True)
        experienced = score_labelling([train[scene], held_out[scene]], held_out[scene], labeller_config)
        fresh = score_labelling([held_out[scene]], held_out[scene], labeller_config)
        evidence, evidence_tool = judge_online(train[scene], held_out[scene], labeller_config)
        frame_labels = evidence.labels(labeller_config)
        per_frame = FrameReport.of(evidence.truly_self, frame_labels)
        data = held_out[scene]
        frames = np.linspace(0, len(data.first_rgb) - 1, min(config.strip_frames, len(data.first_rgb))).astype(int)
        strip = draw_labelled_frames(
            config.out / f"self_model_{scene}.png", data.first_rgb[frames], data.centers[0][frames],
            frame_labels[frames],
            title=f"{scene}: held-out episode 0, labels per frame, online (per keypoint-frame precision "
                  f"{per_frame.precision:.3f}, recall {per_frame.recall:.3f} of self)")
        result["scenes"][scene] = {"robot": robots[scene], "train_episodes": len(train[scene].centers),
                                   "held_out_episodes": len(data.centers), "strip": str(strip),
                                   "per_frame": dataclasses.asdict(per_frame),
                                   "with_experience": report_json(experienced), "held_out_only": report_json(fresh),
                                   "train_only_scored_on_train": report_json(train_reports[scene])}
        if any(mask.any() for mask in data.held_object_masks):
            result["scenes"][scene]["per_frame_tool"] = dataclasses.asdict(
                FrameReport.of(evidence_tool.truly_self, frame_labels))
        print(f"{scene}: per keypoint-frame precision {per_frame.precision:.3f}, recall {per_frame.recall:.3f} "
              f"(all self: precision {per_frame.all_self_precision:.3f}); per keypoint, after train + held-out "
              f"episodes:\n{experienced.table()}", flush=True)
    # The body: keypoints self in every model scene the agent has lived in (one may track the
    # look-alike arm in one scene and the agent's own in another).
    model_scenes = [scene for scene in config.scenes if scene in MODEL_SCENES]
    self_keypoints = [k.keypoint for k in train_reports[model_scenes[0]].keypoints
                      if all(train_reports[s].keypoints[k.keypoint].label == LABEL_SELF for s in model_scenes)
                      ] if model_scenes else []
    result["models"] = train_and_score_models({scene: train[scene] for scene in model_scenes},
                                              {scene: held_out[scene] for scene in model_scenes},
                                              self_keypoints, keypoint_models["panda"].sha256 if model_scenes else "",
                                              config.out)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    path = config.out / "evaluation.json"
    path.write_text(json.dumps(finite_or_none(result), indent=2))
    print(f"\n{summary_table(result)}\n\nwrote {path} and the strips in {config.out} "
          f"({result['wall_s']} s)", flush=True)
    return result


def robot_checkpoint(text: str) -> tuple[str, str]:
    robot, separator, path = text.partition("=")
    if not separator or not robot or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ROBOT=CHECKPOINT, e.g. panda=runs/k8/checkpoint.pt")
    return robot, path


def parse_args(argv: list[str] | None = None) -> EvaluationConfig:
    defaults = EvaluationConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=defaults.data,
                        help="folder of train_<scene>, eval_<scene> (missing ones are collected)")
    parser.add_argument("--scenes", nargs="+", default=list(defaults.scenes), help="scene names")
    parser.add_argument("--keypoints", nargs="+", type=robot_checkpoint, default=[], metavar="ROBOT=CHECKPOINT",
                        help="keypoint checkpoint per robot (panda, kuka_iiwa); default: the ones shipped")
    parser.add_argument("--out", type=Path, default=defaults.out, help="output folder")
    parser.add_argument("--min-evidence-samples", type=int, default=defaults.min_evidence_samples,
                        help="labeller samples before a label (fewer only for tiny test datasets)")
    parser.add_argument("--self-threshold", type=float, default=defaults.self_threshold,
                        help="labeller score from which a keypoint is self (the train episodes' best is reported)")
    parser.add_argument("--frame-self-radius", type=float, default=defaults.frame_self_radius,
                        help="per-frame rule: distance (normalised) to the position model's place (validation's best "
                             "is reported)")
    parser.add_argument("--frame-min-score", type=float, default=defaults.frame_min_score,
                        help="per-frame rule: labeller score from which a keypoint can be self in a frame")
    parser.add_argument("--strip-frames", type=int, default=defaults.strip_frames, help="frames per PNG strip")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    args = parser.parse_args(argv)
    return EvaluationConfig(data=args.data, scenes=tuple(args.scenes), keypoints=tuple(args.keypoints), out=args.out,
                            min_evidence_samples=args.min_evidence_samples, self_threshold=args.self_threshold,
                            frame_self_radius=args.frame_self_radius, frame_min_score=args.frame_min_score,
                            strip_frames=args.strip_frames, threads=args.threads)


def main(argv: list[str] | None = None) -> None:
    try:
        evaluate(parse_args(argv))
    except (DatasetError, CheckpointError) as error:
        raise SystemExit(f"evaluate-self-model: {error}") from None


if __name__ == "__main__":
    main()
