"""Episode datasets on disk: one `.npz` per episode plus `dataset.json` (format in docs/architecture.md).

Arrays named `gt_*` are the simulator's ground truth, kept for evaluation only; learners read
`rgb`, `joint_positions` and `joint_targets`.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

FORMAT_VERSION = 1
LEARNER_KEYS = ("rgb", "joint_positions", "joint_targets", "time_s")


class DatasetError(RuntimeError):
    """A dataset folder or episode file that cannot be used; the message names the file and why."""


def episode_path(folder: Path, index: int) -> Path:
    return Path(folder) / f"episode_{index:06d}.npz"


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, **metadata}
    (folder / "dataset.json").write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")


def read_metadata(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "dataset.json"
    if not path.is_file():
        raise DatasetError(f"{folder}: no dataset.json, so this is not an episode dataset folder")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from error
    if metadata.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"{path}: format_version {metadata.get('format_version')!r}, expected {FORMAT_VERSION}")
    return metadata


def write_episode(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (temp file, then rename) so a crash never leaves half an episode behind."""
    missing = [k for k in LEARNER_KEYS if k not in arrays]
    if missing:
        raise DatasetError(f"{path}: episode lacks {missing}")
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise DatasetError(f"{path}: arrays of different lengths {lengths}")
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    with open(partial, "wb") as stream:
        np.savez_compressed(stream, **arrays)
    partial.replace(path)


def read_episode(path: Path, keys: tuple[str, ...] | None = None,
                 optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load an episode (all arrays, or `keys` and those of `optional` it has), with a clear error
    for missing or corrupt files."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            wanted = data.files if keys is None else keys
            absent = [k for k in wanted if k not in data.files]
            if absent:
                raise DatasetError(f"{path}: no arrays {absent} (has {sorted(data.files)})")
            return {k: data[k] for k in (*wanted, *(k for k in optional if k in data.files))}
    except FileNotFoundError as error:
        raise DatasetError(f"{path}: episode file not found") from error
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: corrupt episode file ({error})") from error


def episode_files(folder: Path) -> list[Path]:
    files = sorted(Path(folder).glob("episode_*.npz"))
    if not files:
        raise DatasetError(f"{folder}: no episode_*.npz files")
    return files


def iter_episodes(folder: Path, keys: tuple[str, ...] | None = None,
                  optional: tuple[str, ...] = ()) -> Iterator[tuple[Path, dict[str, np.ndarray]]]:
    for path in episode_files(folder):
        yield path, read_episode(path, keys, optional)
