"""Small MLP ensembles fitted by robust regression: the learner inside the body schema and the
forward model.

`EnsembleMLP` is M independent MLPs evaluated as one batched network (M = 1 for the body schema).
It standardises inputs and targets with training-set statistics kept in its buffers, so a saved
model carries them. `train_ensemble` is Adam on a Huber loss (a keypoint detector's jumps cost
linearly, not quadratically), with early stopping on held-out blocks of consecutive frames, seeded.
Each member of an ensemble trains on its own bootstrap resample of the training frames, so members
disagree where data is scarce: the disagreement an active-inference agent reads as information gain.

Shapes: inputs (B, D_in) or (M, B, D_in) -> outputs (M, B, D_out).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


class EnsembleMLP(nn.Module):
    """M MLPs with SiLU activations, one batched matrix product per layer for all members."""

    def __init__(self, input_size: int, output_size: int, hidden_sizes: tuple[int, ...] = (128, 128),
                 ensemble_size: int = 1, seed: int = 0) -> None:
        super().__init__()
        self.ensemble_size = ensemble_size
        generator = torch.Generator().manual_seed(seed)

        def uniform(*shape: int, bound: float) -> nn.Parameter:
            return nn.Parameter((torch.rand(ensemble_size, *shape, generator=generator) * 2 - 1) * bound)

        sizes = [input_size, *hidden_sizes, output_size]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default initialisation
            self.weights.append(uniform(fan_in, fan_out, bound=bound))
            self.biases.append(uniform(1, fan_out, bound=bound))
        self.register_buffer("input_mean", torch.zeros(input_size))
        self.register_buffer("input_std", torch.ones(input_size))
        self.register_buffer("target_mean", torch.zeros(output_size))
        self.register_buffer("target_std", torch.ones(output_size))

    def set_standardisation(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Take the mean and standard deviation of (N, D) training inputs and targets."""
        for name, data in (("input", inputs), ("target", targets)):
            getattr(self, f"{name}_mean").copy_(data.mean(dim=0))
            getattr(self, f"{name}_std").copy_(data.std(dim=0).clamp(min=1e-6))

    def standardised_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, D_in) or (M, B, D_in) in the data's units -> (M, B, D_out) in target standard deviations."""
        x = (inputs - self.input_mean) / self.input_std
        if x.dim() == 2:
            x = x.expand(self.ensemble_size, *x.shape)
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(bias, x, weight)
            if layer < last:
                x = nn.functional.silu(x)
        return x

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, D_in) or (M, B, D_in) in the data's units -> (M, B, D_out) in the targets' units."""
        return self.standardised_forward(inputs) * self.target_std + self.target_mean


@dataclass(frozen=True)
class TrainingConfig:
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 400
    patience_epochs: int = 30          # stop when the held-out loss has not improved for this long
    validation_fraction: float = 0.2
    validation_block_frames: int = 50  # held out in blocks: neighbouring frames are near copies
    huber_delta: float = 0.1           # in target standard deviations: beyond it, errors cost linearly
    seed: int = 0


@dataclass
class TrainingLog:
    train_loss: list[float] = field(default_factory=list)       # per epoch, mean over members
    validation_loss: list[float] = field(default_factory=list)  # per epoch, mean over members
    best_epoch: int = -1                                        # whose weights were kept


def held_out_blocks(num_frames: int, fraction: float, block_frames: int, generator: torch.Generator) -> torch.Tensor:
    """(num_frames,) bool: a random `fraction` of the blocks of `block_frames` consecutive frames."""
    num_blocks = math.ceil(num_frames / block_frames)
    if num_blocks < 2:
        raise ValueError(f"need more than {block_frames} frames to hold some out, got {num_frames}")
    num_held_out = min(max(1, round(fraction * num_blocks)), num_blocks - 1)
    is_held_out = torch.zeros(num_blocks, dtype=torch.bool)
    is_held_out[torch.randperm(num_blocks, generator=generator)[:num_held_out]] = True
    return is_held_out.repeat_interleave(block_frames)[:num_frames]


def train_ensemble(model: EnsembleMLP, inputs: np.ndarray, targets: np.ndarray, config: TrainingConfig) -> TrainingLog:
    """Fit `model` to (N, D_in) inputs and (N, D_out) targets in frame order; keeps the best epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    inputs = torch.as_tensor(inputs, dtype=torch.float32)
    targets = torch.as_tensor(targets, dtype=torch.float32)
    is_held_out = held_out_blocks(len(inputs), config.validation_fraction, config.validation_block_frames, generator)
    train_x, train_y = inputs[~is_held_out], targets[~is_held_out]
    val_x, val_y = inputs[is_held_out], targets[is_held_out]
    model.set_standardisation(train_x, train_y)
    members, num_train = model.ensemble_size, len(train_x)
    if members == 1:
        member_frames = torch.arange(num_train)[None]
    else:
        member_frames = torch.randint(num_train, (members, num_train), generator=generator)  # bootstrap

    def loss_on(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 2:  # the same frames for every member
            y = y.expand(members, *y.shape)
        standardised_y = (y - model.target_mean) / model.target_std
        return nn.functional.huber_loss(model.standardised_forward(x), standardised_y, delta=config.huber_delta)

    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    log, best_loss, best_state = TrainingLog(), math.inf, None
    for epoch in range(config.max_epochs):
        model.train()
        order = torch.argsort(torch.rand(members, num_train, generator=generator), dim=1)
        epoch_losses = []
        for start in range(0, num_train, config.batch_size):
            batch = member_frames.gather(1, order[:, start:start + config.batch_size])  # (M, B)
            loss = loss_on(train_x[batch], train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            validation_loss = loss_on(val_x, val_y).item()
        log.train_loss.append(float(np.mean(epoch_losses)))
        log.validation_loss.append(validation_loss)
        if validation_loss < best_loss:
            best_loss, best_state, log.best_epoch = validation_loss, copy.deepcopy(model.state_dict()), epoch
        elif epoch - log.best_epoch >= config.patience_epochs:
            break
    model.load_state_dict(best_state)
    model.eval()
    return log
