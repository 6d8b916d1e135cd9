"""Probe what the keypoints track: `python -m smrl_perception.probe --data DATASET... [--checkpoint PT]`.

Runs the keypoint model (default: the shipped one) on held-out episode datasets and scores it
against the simulator's ground truth, each dataset on its own (core/probe.py says how):
R^2 and pixel error of a linear map from the keypoints to the end effector, the object and each
arm link (cross-validated over whole episodes), the best single keypoint for the end effector and
the object, where each keypoint sits (arm, object, distractor arm, background), and the keypoints
"straddling" the arm (on it in 20-80 % of the frames; "switching" where they are also on the
look-alike arm in >= 5 %: they change bodies between frames). Writes
`probe.json` and `keypoints.png` (one row of frames per dataset) and prints a summary.

Only this evaluation reads the datasets' `gt_*` arrays; training never does.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from smrl_perception.core.checkpoint import CheckpointError, model_file_sha256
from smrl_perception.core.keypoint_detector import DetectedKeypoints, KeypointDetector
from smrl_perception.core.pair_dataset import DatasetError
from smrl_perception.core.probe import (
    PLACES,
    best_single_keypoint,
    distractor_mask,
    draw_keypoint_grid,
    ground_truth_points,
    keypoint_placement,
    linear_probe,
)

GROUND_TRUTH_KEYS = ("gt_ee_pixel", "gt_object_pixel", "gt_link_pixels", "gt_self_mask", "gt_object_mask",
                     "gt_segmentation")


def load_dataset(path: Path, image_size: int) -> list[dict[str, np.ndarray]]:
    """The episodes (rgb + ground truth) of a dataset folder, or a single episode .npz."""
    files = [path] if path.suffix == ".npz" else sorted(path.glob("episode_*.npz"))
    if not files or not all(file.is_file() for file in files):
        raise DatasetError(f"{path}: not an episode .npz nor a folder of episode_*.npz files")
    episodes = []
    for file in files:
        with np.load(file) as archive:
            missing = [key for key in ("rgb", *GROUND_TRUTH_KEYS) if key not in archive.files]
            if missing:
                raise DatasetError(f"{file}: no {missing} (the probe needs an episode from smrl_sim's collect)")
            episode = {key: archive[key] for key in ("rgb", *GROUND_TRUTH_KEYS)}
        if episode["rgb"].shape[1:] != (image_size, image_size, 3):
            needed = (image_size, image_size, 3)
            raise DatasetError(f"{file}: frames {episode['rgb'].shape[1:]}, the model needs {needed}")
        episodes.append(episode)
    return episodes


def probe_dataset(
    detector: KeypointDetector, episodes: list[dict[str, np.ndarray]], folds: int
) -> tuple[dict, list[DetectedKeypoints]]:
    """All measures for one dataset as JSON-ready values, and the keypoints of each episode."""
    detected = [detector.detect(episode["rgb"]) for episode in episodes]
    all_keypoints_px = np.concatenate([k.pixels for k in detected])  # (T, K, 2) over all episodes
    episode_ids = np.concatenate([np.full(len(e["rgb"]), i) for i, e in enumerate(episodes)])
    targets: dict[str, np.ndarray] = {}
    for episode in episodes:
        for name, points in ground_truth_points(episode).items():
            targets.setdefault(name, []).append(points)
    targets = {name: np.concatenate(points).astype(np.float64) for name, points in targets.items()}
    scores = linear_probe(all_keypoints_px, targets, episode_ids, folds)
    self_mask = np.concatenate([e["gt_self_mask"] for e in episodes])
    placement = keypoint_placement(
        all_keypoints_px,
        self_mask,
        np.concatenate([e["gt_object_mask"] for e in episodes]),
        distractor_mask(np.concatenate([e["gt_segmentation"] for e in episodes]), self_mask),
    )
    link_r2 = [s.r2 for name, s in scores.items() if name.startswith("link_") and np.isfinite(s.r2)]
    result = {
        "episodes": len(episodes),
        "frames": len(all_keypoints_px),
        "linear_probe": {  # R^2 null: the target hardly moves
            name: {"r2": s.r2 if np.isfinite(s.r2) else None, "mean_error_px": s.mean_error_px}
            for name, s in scores.items()
        },
        "moving_links_mean_r2": float(np.mean(link_r2)) if link_r2 else None,
        "best_single_keypoint": {},
        "placement": {
            "per_keypoint": {place: fractions.tolist() for place, fractions in zip(PLACES, placement.fractions())},
            "mostly": placement.mostly().tolist(),
            "counts": placement.counts(),
            "straddling": placement.straddling().tolist(),
            "switching_arms": [int(k) for k in placement.straddling() if placement.on_distractor[k] >= 0.05],
        },
        "mean_intensity": np.concatenate([k.intensities for k in detected]).mean(axis=0).tolist(),
    }
    for name in ("end_effector", "object"):
        index, error_px = best_single_keypoint(all_keypoints_px, targets[name])
        result["best_single_keypoint"][name] = {"keypoint": index, "mean_error_px": error_px}
    return result, detected


def r2_text(r2: float | None) -> str:
    return "n/a" if r2 is None else f"{r2:.2f}"


def summary_table(results: dict[str, dict]) -> str:
    """The figures a reader compares, one row per dataset, then where each keypoint sits."""
    lines = [
        f"{'dataset':<18} {'frames':>6}  {'end effector R2/px':>18}  {'object R2/px':>13}  {'moving links R2':>15}  "
        f"{'best kp->ee px':>14}  {'best kp->object px':>18}  mostly on arm/object/distractor/bg  straddling (switching)",
    ]
    for name, r in results.items():
        ee, obj = r["linear_probe"]["end_effector"], r["linear_probe"]["object"]
        best_ee, best_obj = r["best_single_keypoint"]["end_effector"], r["best_single_keypoint"]["object"]
        counts = "/".join(str(r["placement"]["counts"][place]) for place in PLACES)
        lines.append(
            f"{name:<18} {r['frames']:>6}  {r2_text(ee['r2']):>9} / {ee['mean_error_px']:<5.1f}  "
            f"{r2_text(obj['r2']):>6} / {obj['mean_error_px']:<4.1f}  {r2_text(r['moving_links_mean_r2']):>15}  "
            f"{best_ee['mean_error_px']:>8.1f} (#{best_ee['keypoint']})  "
            f"{best_obj['mean_error_px']:>12.1f} (#{best_obj['keypoint']})"
            f"  {counts:>34}  {len(r['placement']['straddling'])} ({len(r['placement']['switching_arms'])})"
        )
    lines.append("")
    lines.append("keypoint  " + "  ".join(f"{name:>24}" for name in results))
    num_keypoints = len(next(iter(results.values()))["mean_intensity"])
    for k in range(num_keypoints):
        cells = []
        for r in results.values():
            place = r["placement"]["mostly"][k]
            fraction = r["placement"]["per_keypoint"][place][k]
            cells.append(f"{place} {fraction:.0%}, intensity {r['mean_intensity'][k]:.2f}")
        lines.append(f"{k:>8}  " + "  ".join(f"{cell:>24}" for cell in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="episode dataset folders or .npz files, each alone")
    parser.add_argument("--checkpoint", default="", help="keypoint model checkpoint; empty: the shipped model")
    parser.add_argument("--out", default="outputs/keypoint_probe", help="folder for probe.json and keypoints.png")
    parser.add_argument("--folds", type=int, default=4, help="cross-validation folds over each dataset's episodes")
    parser.add_argument("--strip-frames", type=int, default=8, help="frames per dataset in keypoints.png")
    parser.add_argument("--scale", type=int, default=3, help="upscaling of the frames in keypoints.png")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    try:
        detector = KeypointDetector.from_checkpoint(args.checkpoint)
    except CheckpointError as error:
        raise SystemExit(f"error: {error}") from None
    # Which file was probed, byte for byte: a run's checkpoint.pt changes while the run goes on.
    sha256 = model_file_sha256(args.checkpoint)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    results, strip_frames, strip_keypoints = {}, [], []
    for path in map(Path, args.data):
        try:
            episodes = load_dataset(path, detector.image_size)
        except DatasetError as error:
            raise SystemExit(f"error: {error}") from None
        name = path.stem if path.suffix == ".npz" else path.name
        results[name], keypoints = probe_dataset(detector, episodes, args.folds)
        # The strip: evenly spaced frames of the dataset's first episode.
        frames = np.linspace(0, len(episodes[0]["rgb"]) - 1, args.strip_frames).round().astype(int)
        strip_frames.append(episodes[0]["rgb"][frames])
        strip_keypoints.append(keypoints[0].pixels[frames])

    report = {
        "checkpoint": args.checkpoint or "shipped",
        "checkpoint_sha256": sha256,
        "model": {"image_size": detector.image_size, "num_keypoints": detector.num_keypoints},
        "folds": args.folds,
        "datasets": results,
    }
    json_path = out / "probe.json"
    json_path.write_text(json.dumps(report, indent=1))
    png_path = draw_keypoint_grid(np.stack(strip_frames), np.stack(strip_keypoints), out / "keypoints.png", args.scale)
    print(f"keypoint model: {report['checkpoint']} (sha256 {sha256[:12]}, K={detector.num_keypoints}, "
          f"{detector.image_size} px)")
    print(summary_table(results))
    print(f"wrote {json_path}\nwrote {png_path}")
    return report


if __name__ == "__main__":
    main()
