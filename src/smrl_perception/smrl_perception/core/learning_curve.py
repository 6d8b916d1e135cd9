"""The learning curve of a training run: one record per evaluation, as JSON, CSV and a PNG plot."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from matplotlib.figure import Figure  # without pyplot: no GUI backend, no global state

#: Columns of a record; losses are means over the steps since the previous record (train) or over
#: the fixed held-out pairs (eval, None without held-out episodes).
FIELDS = (
    "step",
    "wall_s",
    "train_total",
    "train_reconstruction",
    "train_consistency",
    "eval_total",
    "eval_reconstruction",
    "eval_consistency",
)
JSON_NAME = "learning_curve.json"
CSV_NAME = "learning_curve.csv"
PNG_NAME = "learning_curve.png"


def read_learning_curve(run_dir: Path) -> list[dict]:
    """The records written so far in `run_dir` (empty if there are none)."""
    path = Path(run_dir) / JSON_NAME
    return json.loads(path.read_text())["records"] if path.is_file() else []


def write_learning_curve(records: list[dict], run_dir: Path) -> list[Path]:
    """Write all three files (rewritten whole each time, so an interrupted run keeps its curve)."""
    run_dir = Path(run_dir)
    json_path, csv_path, png_path = run_dir / JSON_NAME, run_dir / CSV_NAME, run_dir / PNG_NAME
    json_path.write_text(json.dumps({"fields": FIELDS, "records": records}, indent=1))
    with csv_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if record[k] is None else record[k]) for k in FIELDS} for record in records)
    plot_learning_curve(records, png_path)
    return [json_path, csv_path, png_path]


def plot_learning_curve(records: list[dict], path: Path) -> None:
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    steps = [record["step"] for record in records]
    for key, style in (
        ("train_total", "C0-"),
        ("eval_total", "C1-"),
        ("train_reconstruction", "C0--"),
        ("train_consistency", "C0:"),
    ):
        points = [(s, r[key]) for s, r in zip(steps, records) if r[key] is not None]
        if points:
            axes.plot(*zip(*points), style, label=key.replace("_", " "))
    axes.set_xlabel("training step")
    axes.set_ylabel("loss (MSE)")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
