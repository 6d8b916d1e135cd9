"""Finding and reading the YAML configuration shipped with smrl_sim (package data, no ROS needed)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml


def config_path(kind: str, name_or_path: str) -> Path:
    """Resolve a config by file path, or by name among the shipped ones (`config/<kind>/<name>.yaml`)."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise FileNotFoundError(f"{kind} config file not found: {candidate}")
        return candidate
    shipped = resources.files("smrl_sim") / "config" / kind / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise FileNotFoundError(
            f"no {kind} config named {name_or_path!r}; shipped ones: {', '.join(shipped_names(kind))}"
        )
    return Path(str(shipped))


def shipped_names(kind: str) -> list[str]:
    folder = resources.files("smrl_sim") / "config" / kind
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        data = yaml.safe_load(stream)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data
