"""The evaluation command end to end on a few short episodes of the real simulator."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from smrl_perception.core.checkpoint import CheckpointError
from smrl_policy.active_inference_eval import main, parse_args

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


def test_other_model_files_are_taken_from_the_flags(tmp_path):
    config = parse_args(["--keypoint-model", "k.pt", "--forward-model", "f.pt", "--body-schema", "b.pt"])
    assert config.keypoint_model == "k.pt"
    assert config.agent == {"forward_model_path": "f.pt", "body_schema_path": "b.pt"}
    with pytest.raises(CheckpointError, match="missing.pt"):
        main(["--keypoint-model", str(tmp_path / "missing.pt"), "--episodes", "1", "--priming-episodes", "1",
              "--out", str(tmp_path)])


def test_the_labeller_learns_from_babbling_only_unless_asked(tmp_path):
    args = ["--goal", "oracle_px", "--episodes", "1", "--priming-episodes", "1", "--max-episode-steps", "20",
            "--population", "32", "--elites", "4", "--iterations", "1", "--out", str(tmp_path)]
    main(args + ["--name", "frozen"])
    main(args + ["--name", "learning", "--labeller-learns"])
    frozen = json.loads((tmp_path / "frozen.json").read_text())["labeller_samples"]
    learning = json.loads((tmp_path / "learning.json").read_text())["labeller_samples"]
    assert frozen["after_priming"] == learning["after_priming"] > 0
    assert frozen["at_end"] == frozen["after_priming"]
    assert learning["at_end"] > learning["after_priming"]   # the agent's own motion made samples
