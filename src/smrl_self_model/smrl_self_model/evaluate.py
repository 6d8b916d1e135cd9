"""Evaluate the self model, and train the one shipped: `./smrl evaluate-self-model [--out DIR]`.

Per scene S (plain, push, distractor, distractor_30hz) it reads `<data>/train_S` and
`<data>/eval_S` (episode datasets from `./smrl collect`; a missing one is collected first, as
SCENE_COLLECTION and DATASETS say: Panda motor babbling, 60 train episodes of seed 0 and 12
held-out ones of seed 1, 6 s each, 64 x 64 px frames 0.1 s apart, or 1/30 s in distractor_30hz,
the live camera's rate) and:

1. runs the keypoint model (default: the shipped one) over every episode;
2. labels the keypoints with the contingency labeller, twice: living through the scene's train
   episodes and then its held-out ones (an agent keeps its experience; it never sees a label), and
   on the held-out episodes alone. Both are scored against the held-out episodes' `gt_self_mask`
   (evaluation.py): precision and recall of "self", and a row per keypoint;
3. draws the held-out episode 0 with the keypoints coloured by label (`self_model_S.png`).

The labeller's `self_threshold` is tuned on the train episodes only: a labeller that lived through
each scene's train episodes is scored against their ground truth at each threshold, and the one
whose worst scene does best is reported (`threshold_sweep`). The held-out scores use the
configured threshold (`--self-threshold`, default: ContingencyConfig's, set from this sweep).

Then, on the train episodes of the MODEL_SCENES (those 0.1 s apart), the body schema (joints ->
self keypoints) and the forward model (self state + command -> next self state) are trained on
the keypoints labelled self in every scene's train episodes, saved (`body_schema.pt`,
`forward_model.pt`) and scored on each such scene's held-out episodes, in pixels, next to a
baseline (the mean pose; no motion).
Writes `evaluation.json`; prints progress and a summary. Only this evaluation reads `gt_*`.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.resources
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from smrl_perception.core.checkpoint import SHIPPED_MODEL, CheckpointError
from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_self_model.core.body_schema import train_body_schema
from smrl_self_model.core.contingency import LABEL_SELF, ContingencyConfig, label_episodes
from smrl_self_model.core.ensemble_regression import TrainingConfig
from smrl_self_model.core.evaluation import (
    LabellingReport,
    ThresholdSweep,
    draw_labelled_frames,
    labelling_report,
    on_arm_fraction,
    sweep_self_threshold,
)
from smrl_self_model.core.forward_model import Transitions, train_forward_model
from smrl_self_model.core.pixel_distance import pixel_distance
from smrl_sim.core.collect import CollectConfig, collect
from smrl_sim.core.episode_dataset import DatasetError, iter_episodes, read_metadata
from smrl_sim.core.robot_config import load_robot_config

SCENES = ("plain", "push", "distractor", "distractor_30hz")
#: How each scene's datasets are collected when missing: scene -> CollectConfig options.
#: distractor_30hz has the same 6 s episodes framed at the sim node's camera rate, as the live node
#: sees them: the labeller must not depend on the frame rate.
SCENE_COLLECTION = {"plain": {}, "push": {"push_object": True}, "distractor": {"distractor_arm": True},
                    "distractor_30hz": {"distractor_arm": True, "control_period_s": 1 / 30, "frames": 180}}
#: Scenes the body schema and forward model learn from and are scored on: one step of the forward
#: model is one 0.1 s control period, the period of these datasets (and of the policies).
MODEL_SCENES = ("plain", "push", "distractor")
#: split -> (episodes, seed): the held-out episodes are of another seed than the train ones.
DATASETS = {"train": (60, 0), "eval": (12, 1)}


@dataclass(frozen=True)
class EvaluationConfig:
    data: Path = Path("outputs/datasets")
    scenes: tuple[str, ...] = SCENES
    keypoints: str = ""  # keypoint model checkpoint; empty: the one shipped in smrl_perception
    out: Path = Path("outputs/self_model")
    min_evidence_samples: int = ContingencyConfig.min_evidence_samples
    self_threshold: float = ContingencyConfig.self_threshold
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


def keypoint_model_file(checkpoint: str) -> Path:
    """The checkpoint's path; the shipped model's when empty."""
    if checkpoint:
        return Path(checkpoint)
    with importlib.resources.as_file(importlib.resources.files("smrl_perception") / "models" / SHIPPED_MODEL) as path:
        return Path(path)


def detect_dataset(detector: KeypointDetector, folder: Path) -> EpisodeKeypoints:
    joint_names = list(load_robot_config(read_metadata(folder)["robot"]).joint_names)
    keys = ("rgb", "joint_positions", "joint_targets", "gt_self_mask")
    data = EpisodeKeypoints([], [], [], [], [], np.empty(0), joint_names)
    for path, episode in tqdm(list(iter_episodes(folder, keys)), desc=f"keypoints {folder.name}", unit="episode"):
        keypoints = detector.detect(episode["rgb"])
        data.centers.append(keypoints.normalised)
        data.intensities.append(keypoints.intensities)
        data.joint_positions_rad.append(episode["joint_positions"].astype(np.float64))
        data.joint_targets_rad.append(episode["joint_targets"].astype(np.float64))
        data.self_masks.append(episode["gt_self_mask"])
        if not data.first_rgb.size:
            data.first_rgb = episode["rgb"]
    return data


def score_labelling(episodes: list[EpisodeKeypoints], scored: EpisodeKeypoints,
                    config: ContingencyConfig) -> LabellingReport:
    """Live through `episodes` in order, then score the labels on `scored`'s ground truth."""
    labeller = label_episodes(*(sum((getattr(e, name) for e in episodes), [])
                                for name in ("centers", "intensities", "joint_positions_rad")), config)
    on_arm = on_arm_fraction(scored.all_centers, np.concatenate(scored.self_masks))
    return labelling_report(on_arm, labeller.scores, labeller.labels, labeller.evidence_samples)


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
        "centers", "intensities", "joint_positions_rad", "joint_targets_rad")), self_masks=[],
        first_rgb=next(iter(train.values())).first_rgb, joint_names=next(iter(train.values())).joint_names)
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
    result.update(body_schema={"best_epoch": schema_log.best_epoch, "scenes": {}},
                  forward_model={"best_epoch": forward_log.best_epoch, "scenes": {}})
    for scene, data in held_out.items():
        size = data.image_size_px
        observed = data.all_centers[:, self_keypoints]
        result["body_schema"]["scenes"][scene] = error_summary(
            schema.prediction_errors_px(data.all_joint_positions_rad, data.all_centers, size),
            pixel_distance(mean_pose, observed, size))
        steps = transitions(data, self_keypoints)
        predicted, _ = forward.predict(steps.self_keypoints, steps.joint_positions_rad, steps.joint_command_change_rad)
        result["forward_model"]["scenes"][scene] = error_summary(
            pixel_distance(predicted, steps.next_self_keypoints, size),
            pixel_distance(steps.self_keypoints, steps.next_self_keypoints, size))
    return result


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
    rows = [f"{'scene':15s} {'precision':>9s} {'recall':>6s}   {'held-out only':>13s}   "
            f"{'body schema px':>14s} {'(mean pose)':>11s}   {'forward px':>10s} {'(no motion)':>11s}"]
    models = result["models"]
    for scene, scores in result["scenes"].items():
        experienced, fresh = scores["with_experience"], scores["held_out_only"]
        schema = models.get("body_schema", {}).get("scenes", {}).get(scene)
        forward = models.get("forward_model", {}).get("scenes", {}).get(scene)
        rows.append(
            f"{scene:15s} {experienced['precision']:9.2f} {experienced['recall']:6.2f}   "
            f"{fresh['precision']:6.2f} {fresh['recall']:6.2f}   "
            + (f"{schema['mean_px']:14.2f} {schema['baseline_mean_px']:11.2f}   "
               f"{forward['mean_px']:10.2f} {forward['baseline_mean_px']:11.2f}" if schema else "   (no models)"))
    return "\n".join(rows)


def evaluate(config: EvaluationConfig) -> dict:
    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    labeller_config = ContingencyConfig(min_evidence_samples=config.min_evidence_samples,
                                        self_threshold=config.self_threshold)
    model_file = keypoint_model_file(config.keypoints)
    detector = KeypointDetector.from_checkpoint(config.keypoints)
    keypoint_sha256 = hashlib.sha256(model_file.read_bytes()).hexdigest()
    print(f"keypoint model {model_file} ({detector.num_keypoints} keypoints)", flush=True)
    config.out.mkdir(parents=True, exist_ok=True)
    collect_missing_datasets(config.data, config.scenes)
    train, held_out = {}, {}
    for scene in config.scenes:
        train[scene] = detect_dataset(detector, config.data / f"train_{scene}")
        held_out[scene] = detect_dataset(detector, config.data / f"eval_{scene}")
    print("labelling each scene's train episodes (for tuning, and for the body schema)...", flush=True)
    train_reports = {scene: score_labelling([data], data, labeller_config) for scene, data in train.items()}
    sweep = sweep_on(train_reports, labeller_config.self_threshold)
    used = sweep.worst[sweep.thresholds == labeller_config.self_threshold][0]
    print(f"self threshold {labeller_config.self_threshold}: on the train episodes the worst scene's min(precision, "
          f"recall) is {used:.2f}; the best threshold there is {sweep.best_threshold} ({sweep.worst.max():.2f})",
          flush=True)
    result: dict = {"keypoint_model": str(model_file), "keypoint_model_sha256": keypoint_sha256,
                    "labeller": dataclasses.asdict(labeller_config),
                    "threshold_sweep_on_train": {
                        "thresholds": sweep.thresholds.tolist(), "best_threshold": sweep.best_threshold,
                        "worst_scene_min_precision_recall": sweep.worst.tolist(),
                        "precision": {k: v.tolist() for k, v in sweep.precision.items()},
                        "recall": {k: v.tolist() for k, v in sweep.recall.items()}},
                    "scenes": {}}
    for scene in config.scenes:
        print(f"labelling {scene}: train then held-out episodes, and held-out alone...", flush=True)
        experienced = score_labelling([train[scene], held_out[scene]], held_out[scene], labeller_config)
        fresh = score_labelling([held_out[scene]], held_out[scene], labeller_config)
        data = held_out[scene]
        frames = np.linspace(0, len(data.first_rgb) - 1, min(config.strip_frames, len(data.first_rgb))).astype(int)
        strip = draw_labelled_frames(
            config.out / f"self_model_{scene}.png", data.first_rgb[frames], data.centers[0][frames],
            np.array([k.label for k in experienced.keypoints]),
            title=f"{scene}: held-out episode 0, labels after the train and held-out episodes (precision "
                  f"{experienced.precision:.2f}, recall {experienced.recall:.2f} of self)")
        result["scenes"][scene] = {"train_episodes": len(train[scene].centers),
                                   "held_out_episodes": len(data.centers), "strip": str(strip),
                                   "with_experience": report_json(experienced), "held_out_only": report_json(fresh),
                                   "train_only_scored_on_train": report_json(train_reports[scene])}
        print(f"{scene}, labels after train + held-out episodes:\n{experienced.table()}", flush=True)
    # The body: keypoints self in every scene the agent has lived in (one may track the look-alike
    # arm in one scene and the agent's own in another).
    self_keypoints = [k.keypoint for k in next(iter(train_reports.values())).keypoints
                      if all(report.keypoints[k.keypoint].label == LABEL_SELF for report in train_reports.values())]
    model_scenes = [scene for scene in config.scenes if scene in MODEL_SCENES]
    result["models"] = train_and_score_models({scene: train[scene] for scene in model_scenes},
                                              {scene: held_out[scene] for scene in model_scenes},
                                              self_keypoints, keypoint_sha256, config.out)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    path = config.out / "evaluation.json"
    path.write_text(json.dumps(finite_or_none(result), indent=2))
    print(f"\n{summary_table(result)}\n\nwrote {path} and the strips in {config.out} "
          f"({result['wall_s']} s)", flush=True)
    return result


def parse_args(argv: list[str] | None = None) -> EvaluationConfig:
    defaults = EvaluationConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=defaults.data,
                        help="folder of train_<scene>, eval_<scene> (missing ones are collected)")
    parser.add_argument("--scenes", nargs="+", default=list(defaults.scenes), help="scene names")
    parser.add_argument("--keypoints", default=defaults.keypoints, help="keypoint checkpoint (default: shipped)")
    parser.add_argument("--out", type=Path, default=defaults.out, help="output folder")
    parser.add_argument("--min-evidence-samples", type=int, default=defaults.min_evidence_samples,
                        help="labeller samples before a label (fewer only for tiny test datasets)")
    parser.add_argument("--self-threshold", type=float, default=defaults.self_threshold,
                        help="labeller score from which a keypoint is self (the train episodes' best is reported)")
    parser.add_argument("--strip-frames", type=int, default=defaults.strip_frames, help="frames per PNG strip")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads")
    args = parser.parse_args(argv)
    return EvaluationConfig(data=args.data, scenes=tuple(args.scenes), keypoints=args.keypoints, out=args.out,
                            min_evidence_samples=args.min_evidence_samples, self_threshold=args.self_threshold,
                            strip_frames=args.strip_frames,
                            threads=args.threads)


def main(argv: list[str] | None = None) -> None:
    try:
        evaluate(parse_args(argv))
    except (DatasetError, CheckpointError) as error:
        raise SystemExit(f"evaluate-self-model: {error}") from None


if __name__ == "__main__":
    main()
