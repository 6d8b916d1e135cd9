"""Transporter checkpoints: weights, config, training step and optimizer state in one file.

The file holds only plain dicts, lists, numbers, strings and tensors, so it loads with
`torch.load(weights_only=True)`: opening a checkpoint from elsewhere cannot run code. Every way a
load can fail raises `CheckpointError` naming the file and the reason.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.resources
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from smrl_perception.core.transporter import Transporter, TransporterConfig

FORMAT_NAME = "smrl_perception.transporter"
FORMAT_VERSION = 1
#: The keypoint model shipped for each arm (files in smrl_perception/models, made as its README says).
SHIPPED_MODELS = {"panda": "keypoints_default.pt", "kuka_iiwa": "keypoints_kuka_iiwa.pt"}


class CheckpointError(Exception):
    """A checkpoint file is missing, unreadable, of another format, or for another model config."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def first_line(error: Exception) -> str:
    """The first line of an exception's message (torch's can run to pages), or its type."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class Checkpoint:
    path: Path
    config: TransporterConfig
    step: int                     # optimizer steps taken when saved
    model_state: dict
    optimizer_state: dict | None  # None in inference-only checkpoints

    def restore_model(self) -> Transporter:
        """A Transporter of this config with these weights, in eval mode."""
        model = Transporter(self.config)
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as error:
            raise CheckpointError(self.path, f"weights do not fit the model ({first_line(error)})") from None
        return model.eval()

    def restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Load the saved optimizer state (Adam's moments) into `optimizer` to resume training."""
        if self.optimizer_state is None:
            raise CheckpointError(self.path, "has no optimizer state to resume from")
        try:
            optimizer.load_state_dict(self.optimizer_state)
        except (ValueError, KeyError) as error:
            raise CheckpointError(self.path, f"optimizer state does not fit ({first_line(error)})") from None


def save_checkpoint(
    path: Path | str, model: Transporter, step: int, optimizer: torch.optim.Optimizer | None = None
) -> Path:
    """Write atomically (temporary file, then rename), so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": dataclasses.asdict(model.config),
        "step": int(step),
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
    }
    temporary = path.with_name(path.name + ".tmp")
    torch.save(content, temporary)
    os.replace(temporary, path)
    return path


def load_checkpoint(path: Path | str, expected_config: TransporterConfig | None = None) -> Checkpoint:
    """Read and validate a checkpoint; with `expected_config`, also require the same model config."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated / foreign files
        raise CheckpointError(path, f"not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT_NAME:
        raise CheckpointError(path, f"not a {FORMAT_NAME} checkpoint")
    if content.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            path, f"format version {content.get('format_version')!r}, this code reads version {FORMAT_VERSION}"
        )
    try:
        config = TransporterConfig.from_dict(content["config"])
        checkpoint = Checkpoint(
            path=path,
            config=config,
            step=int(content["step"]),
            model_state=content["model_state"],
            optimizer_state=content["optimizer_state"],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(path, f"incomplete or invalid checkpoint ({error})") from None
    if expected_config is not None and config != expected_config:
        differences = ", ".join(
            f"{field.name}: file {getattr(config, field.name)!r} vs wanted {getattr(expected_config, field.name)!r}"
            for field in dataclasses.fields(config)
            if getattr(config, field.name) != getattr(expected_config, field.name)
        )
        raise CheckpointError(path, f"model config differs ({differences})")
    return checkpoint


def load_transporter(path: Path | str) -> Transporter:
    """The trained model in a checkpoint, ready for inference (what the keypoint node loads)."""
    return load_checkpoint(path).restore_model()


@contextlib.contextmanager
def shipped_model_file(robot: str = "panda") -> Iterator[Path]:
    """The path of the keypoint model shipped for `robot` (while the context lasts)."""
    if robot not in SHIPPED_MODELS:
        raise CheckpointError(robot, f"no keypoint model is shipped for robot {robot!r} (shipped: {sorted(SHIPPED_MODELS)})")
    with importlib.resources.as_file(importlib.resources.files("smrl_perception") / "models" / SHIPPED_MODELS[robot]) as path:
        yield Path(path)


def model_file_sha256(path: Path | str | None = None, robot: str = "panda") -> str:
    """SHA-256 of a keypoint model file, or of the one shipped for `robot` when `path` is empty:
    the identity self models, evidence files, policies and probe reports record, since keypoint
    indices mean something only for the model that made them."""
    with contextlib.nullcontext(Path(path)) if path else shipped_model_file(robot) as model_file:
        return hashlib.sha256(model_file.read_bytes()).hexdigest()


def load_shipped_transporter(robot: str = "panda") -> Transporter:
    """The model shipped in the package for `robot`, so the node and the demo work without training first."""
    with shipped_model_file(robot) as path:
        return load_transporter(path)
