"""The evaluation command end to end on a few short episodes of the real simulator."""
from __future__ import annotations

import json

import numpy as np
import torch

from smrl_policy.active_inference_eval import main

torch.set_num_threads(1)


def test_the_evaluation_writes_a_report_with_a_wilson_interval(tmp_path, capsys):
    main(["--goal", "oracle_px", "--episodes", "2", "--priming-episodes", "1", "--max-episode-steps", "4",
          "--population", "32", "--elites", "4", "--iterations", "2", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "oracle_px.json").read_text())
    assert report["goal_is_oracle"] is True
    summary = report["summary"]
    assert summary["episodes"] == 2 and 0.0 <= summary["wilson95"][0] <= summary["success_rate"] <= summary["wilson95"][1]
    assert [episode["seed"] for episode in report["episodes"]] == [1000, 1001]
    assert all(1 <= episode["steps"] <= 4 for episode in report["episodes"])
    assert np.isfinite(report["ms_per_action_benchmark"]["median"])
    assert '"oracle": true' in capsys.readouterr().out


def test_a_baseline_runs_on_the_same_episodes(tmp_path):
    main(["--goal", "oracle_px", "--baseline", "still", "--episodes", "1", "--priming-episodes", "1",
          "--max-episode-steps", "3", "--population", "32", "--elites", "4", "--iterations", "1",
          "--out", str(tmp_path)])
    report = json.loads((tmp_path / "still.json").read_text())
    assert report["baseline"] == "still" and report["episodes"][0]["seed"] == 1000
    assert report["summary"]["successes"] == 0  # the arm at home does not reach the table
