"""Versioned model files of smrl_self_model (body schema, forward model): one file per model.

A file holds a format name and version, plain metadata (numbers, strings, lists) to rebuild the
model, and its tensors. Nothing else, so it loads with `torch.load(weights_only=True)`: opening a
model file from elsewhere cannot run code. Every way a load can fail raises `ModelFileError`
naming the file and the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch


class ModelFileError(Exception):
    """A model file is missing, unreadable, of another format or version, or incomplete."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def save_model_file(path: Path | str, format_name: str, format_version: int, metadata: dict,
                    state_dict: dict[str, torch.Tensor]) -> Path:
    """Write atomically (temporary file, then rename), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"format": format_name, "format_version": format_version, "metadata": metadata,
               "state_dict": {name: tensor.detach().cpu() for name, tensor in state_dict.items()}}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(content, temporary)
    os.replace(temporary, path)
    return path


def read_model_file(path: Path | str) -> dict:
    """The raw content of a model file (a dict with its format name), unchecked beyond that."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such file")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        raise ModelFileError(path, f"not a readable model file ({_first_line(error)})") from None
    if not isinstance(content, dict) or not isinstance(content.get("format"), str):
        raise ModelFileError(path, "not a model file (no format name)")
    return content


def load_model_file(path: Path | str, format_name: str, format_version: int) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check a model file: returns (metadata, state_dict)."""
    content = read_model_file(path)
    if content["format"] != format_name:
        raise ModelFileError(path, f"not a {format_name} file")
    if content.get("format_version") != format_version:
        raise ModelFileError(path, f"format version {content.get('format_version')!r}, "
                                   f"this code reads version {format_version}")
    metadata, state_dict = content.get("metadata"), content.get("state_dict")
    if not isinstance(metadata, dict) or not isinstance(state_dict, dict):
        raise ModelFileError(path, "incomplete model file (no metadata or weights)")
    return metadata, state_dict
