"""Keypoint inference latency per frame: `python -m smrl_perception.benchmark [--json out.json]`.

Times what the keypoint node runs for each camera frame (uint8 image -> tensor -> keypoint path),
batch 1, on one CPU core by default, after a warm-up: median and 90th percentile. Untrained
weights time the same as trained ones. On a shared machine, run it twice and compare.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict

import numpy as np
import torch

from smrl_perception.core.transporter import Transporter, TransporterConfig, images_to_tensor


def time_keypoint_path(
    config: TransporterConfig, channels_last: bool, runs: int, warmup_runs: int
) -> dict[str, float]:
    """Median and p90 milliseconds per frame of `Transporter.keypoints` on a random image."""
    model = Transporter(config).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    frame_rgb = np.random.default_rng(0).integers(0, 256, (config.image_size, config.image_size, 3), dtype=np.uint8)
    times_ms = []
    with torch.inference_mode():
        for run in range(warmup_runs + runs):
            started = time.perf_counter()
            images = images_to_tensor(frame_rgb)
            model.keypoints(images if channels_last else images.contiguous())
            if run >= warmup_runs:
                times_ms.append((time.perf_counter() - started) * 1e3)
    return {"median_ms": float(np.median(times_ms)), "p90_ms": float(np.percentile(times_ms, 90))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes, px")
    parser.add_argument("--keypoints", type=int, default=TransporterConfig.num_keypoints)
    parser.add_argument("--widths", type=int, nargs=2, default=TransporterConfig.encoder_widths)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup-runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    results = []
    print(f"keypoint path, batch 1, {args.threads} thread(s), torch {torch.__version__}, {platform.machine()}")
    print(f"{'size px':>8} {'memory format':>14} {'median ms':>10} {'p90 ms':>8} {'frames/s':>9}")
    for size in args.sizes:
        config = TransporterConfig(image_size=size, num_keypoints=args.keypoints, encoder_widths=tuple(args.widths))
        for channels_last in (True, False):
            timing = time_keypoint_path(config, channels_last, args.runs, args.warmup_runs)
            memory_format = "channels_last" if channels_last else "contiguous"
            results.append({"config": asdict(config), "memory_format": memory_format, **timing})
            print(
                f"{size:>8} {memory_format:>14} {timing['median_ms']:>10.2f} {timing['p90_ms']:>8.2f} "
                f"{1e3 / timing['median_ms']:>9.0f}"
            )
    if args.json:
        with open(args.json, "w") as file:
            summary = {"threads": args.threads, "torch": torch.__version__, "runs": args.runs, "results": results}
            json.dump(summary, file, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
