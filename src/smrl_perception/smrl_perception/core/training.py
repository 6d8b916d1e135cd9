"""Train a Transporter on frame pairs from episode datasets and/or rosbag2 bags.

Readable top to bottom: load episodes, split them, then Adam on random pairs with a held-out
evaluation and a checkpoint every so often. A run folder holds everything a run writes:

    checkpoint.pt                  weights + config + step + optimizer (resume and inference)
    learning_curve.{json,csv,png}  one record per evaluation

Running again with the same folder resumes from its checkpoint (same model config required).
Resumed runs are seeded from (seed, step), so they are reproducible but not bit-identical to an
uninterrupted run.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from smrl_perception.core.checkpoint import load_checkpoint, save_checkpoint
from smrl_perception.core.learning_curve import read_learning_curve, write_learning_curve
from smrl_perception.core.loss import LOSS_TERMS, LossWeights, transporter_loss
from smrl_perception.core.pair_dataset import (
    DEFAULT_IMAGE_TOPIC,
    FramePairs,
    load_episodes,
    split_episodes,
)
from smrl_perception.core.transporter import Transporter, TransporterConfig, images_to_tensor

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    data: list[str]                  # episode dataset folders, episode .npz files, rosbag2 folders
    out_dir: str = "runs/keypoints"
    model: TransporterConfig = field(default_factory=TransporterConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    steps: int = 2000                # optimizer steps in total (a resumed run continues to this)
    batch_size: int = 32             # frame pairs per step
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4       # Adam's L2 penalty, as the original project
    gaussian_std_start: float | None = None  # wider Gaussian maps at first, narrowing to the model's
    heatmap_mask_start: float = 0.0          # share of the heatmaps in the transport masks at first, to 0
    anneal_steps: int = 0                    # ...both linearly over these steps (see annealed)
    min_gap_frames: int = 1          # source and target are 1..4 frames apart
    max_gap_frames: int = 4
    held_out_fraction: float = 0.1   # of the episodes, never trained on; 0 disables evaluation
    eval_every_steps: int = 250
    eval_pairs: int = 256            # fixed held-out pairs per evaluation
    checkpoint_every_steps: int = 500
    image_topic: str = DEFAULT_IMAGE_TOPIC  # for rosbag2 inputs
    seed: int = 0
    num_threads: int = 2
    channels_last: bool = True       # ~35% faster convolutions on CPU
    resume: bool = True              # continue from out_dir/checkpoint.pt if it exists
    progress_bar: bool = True


@dataclass
class TrainSummary:
    steps: int                       # total optimizer steps of the model (including resumed ones)
    steps_this_run: int
    wall_s: float                    # this invocation
    final_record: dict | None        # the last learning-curve record
    files: list[Path]                # written by this invocation
    skipped_messages: dict[str, int]

    def __str__(self) -> str:
        lines = [f"trained to step {self.steps} ({self.steps_this_run} steps in {self.wall_s:.1f} s)"]
        if self.final_record:
            losses = ", ".join(
                f"{key} {value:.5f}"
                for key, value in self.final_record.items()
                if key.endswith(LOSS_TERMS) and value is not None
            )
            lines.append(f"final losses: {losses}")
        lines += [f"skipped {count} bag message(s): {reason}" for reason, count in self.skipped_messages.items()]
        lines += [f"wrote {path}" for path in self.files]
        return "\n".join(lines)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def annealed(start: float, final: float, step: int, config: TrainConfig) -> float:
    """Linearly from `start` at step 0 to `final` at `config.anneal_steps`, then `final`.

    What is annealed: the Gaussian maps' std (wider maps let a keypoint feel things further off
    before it settles) and the heatmaps' share in the transport masks (transporter.transport_masks_of:
    it lets a spread-out heatmap learn where things change before it narrows to a point).
    """
    if step >= config.anneal_steps:
        return final
    return start + (final - start) * step / config.anneal_steps


def evaluate(
    model: Transporter, pairs: FramePairs, indices: np.ndarray, config: TrainConfig
) -> dict[str, float]:
    """Mean losses over the held-out pairs at `indices`."""
    model.eval()
    sums = dict.fromkeys(LOSS_TERMS, 0.0)
    with torch.no_grad():
        for start in range(0, len(indices), config.batch_size):
            batch = indices[start : start + config.batch_size]
            source, target = (to_model_input(frames, config) for frames in pairs.frames(batch))
            losses = transporter_loss(model, source, target, config.loss_weights)
            for key in sums:
                sums[key] += losses[key].item() * len(batch)
    model.train()
    return {key: value / len(indices) for key, value in sums.items()}


def to_model_input(frames_rgb: np.ndarray, config: TrainConfig) -> torch.Tensor:
    images = images_to_tensor(frames_rgb)  # channels_last by construction
    return images if config.channels_last else images.contiguous()


def train(config: TrainConfig) -> TrainSummary:
    started = time.perf_counter()
    seed_everything(config.seed)
    torch.set_num_threads(config.num_threads)
    run_dir = Path(config.out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / CHECKPOINT_NAME

    # Data: whole episodes held out, pairs a few frames apart within an episode.
    loaded = load_episodes(config.data, config.model.image_size, config.image_topic)
    train_episodes, held_out_episodes = split_episodes(loaded.episodes, config.held_out_fraction, config.seed)
    train_pairs = FramePairs(train_episodes, config.min_gap_frames, config.max_gap_frames)
    held_out_pairs = (
        FramePairs(held_out_episodes, config.min_gap_frames, config.max_gap_frames) if held_out_episodes else None
    )
    eval_indices = held_out_pairs.fixed_subset(config.eval_pairs, config.seed) if held_out_pairs else None
    print(
        f"data: {len(loaded.episodes)} episodes ({len(train_episodes)} train, {len(held_out_episodes)} held out), "
        f"{len(train_pairs)} train pairs, {0 if eval_indices is None else len(eval_indices)} eval pairs, "
        f"{loaded.skipped_messages.total()} bag messages skipped"
    )

    model = Transporter(config.model)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    first_step, records = 0, []
    if config.resume and checkpoint_path.exists():
        checkpoint = load_checkpoint(checkpoint_path, expected_config=config.model)
        model.load_state_dict(checkpoint.model_state)
        checkpoint.restore_optimizer(optimizer)
        first_step = checkpoint.step
        records = [r for r in read_learning_curve(run_dir) if r["step"] <= first_step]
        print(f"resuming from {checkpoint_path} at step {first_step}")
    wall_before_s = records[-1]["wall_s"] if records else 0.0
    rng = np.random.default_rng([config.seed, first_step])

    model.train()
    curve_files: list[Path] = []
    train_sums, steps_since_record = dict.fromkeys(LOSS_TERMS, 0.0), 0
    progress = tqdm(
        range(first_step, config.steps), initial=first_step, total=config.steps, disable=not config.progress_bar
    )
    for step in progress:
        final_std = config.model.gaussian_std
        model.gaussian_std = annealed(config.gaussian_std_start or final_std, final_std, step, config)
        model.heatmap_mask_weight = annealed(config.heatmap_mask_start, 0.0, step, config)
        source, target = (to_model_input(frames, config) for frames in train_pairs.sample(config.batch_size, rng))
        losses = transporter_loss(model, source, target, config.loss_weights)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()

        for key in train_sums:
            train_sums[key] += losses[key].item()
        steps_since_record += 1
        progress.set_postfix(loss=f"{losses['total'].item():.4f}")
        steps_done = step + 1
        is_last = steps_done == config.steps
        if steps_done % config.eval_every_steps == 0 or is_last:
            held_out = evaluate(model, held_out_pairs, eval_indices, config) if held_out_pairs else {}
            record = {"step": steps_done, "wall_s": wall_before_s + time.perf_counter() - started}
            record.update({f"train_{k}": v / steps_since_record for k, v in train_sums.items()})
            record.update({f"eval_{k}": held_out.get(k) for k in LOSS_TERMS})
            records.append(record)
            curve_files = write_learning_curve(records, run_dir)
            train_sums, steps_since_record = dict.fromkeys(LOSS_TERMS, 0.0), 0
        if steps_done % config.checkpoint_every_steps == 0 or is_last:
            save_checkpoint(checkpoint_path, model, steps_done, optimizer)
    progress.close()

    summary = TrainSummary(
        steps=max(first_step, config.steps),
        steps_this_run=max(0, config.steps - first_step),
        wall_s=time.perf_counter() - started,
        final_record=records[-1] if records else None,
        files=[checkpoint_path, *curve_files] if curve_files else [],
        skipped_messages=dict(loaded.skipped_messages),
    )
    print(summary)
    return summary
