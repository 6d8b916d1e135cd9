"""The pipeline's steps: each is a project command its own parser accepts, wired output to input."""
import importlib
from pathlib import Path

from smrl_bringup.pipeline import main, stages


def pipeline_stages(tmp_path):
    import argparse
    return stages(argparse.Namespace(out=tmp_path, keypoint_episodes=3, keypoint_steps=8, policy_steps=100,
                                     threads=1, seed=0))


def test_every_step_is_a_command_its_module_accepts_and_each_reads_what_the_one_before_writes(tmp_path):
    steps = pipeline_stages(tmp_path)
    configs = {name: importlib.import_module(command[0]).parse_args(command[1:]) for name, _, command in steps}
    assert [name for name, _, _ in steps] == ["collect plain", "collect push", "keypoints", "self model + policy",
                                             "evaluate"]
    assert configs["collect push"].push_object and not configs["collect plain"].push_object
    assert all(configs[name].relocate_object_every_s for name in ("collect plain", "collect push"))
    keypoints, policy, evaluation = configs["keypoints"], configs["self model + policy"], configs["evaluate"]
    done = dict((name, output) for name, output, _ in steps)
    assert sorted(map(Path, keypoints.data)) == sorted(configs[n].out for n in ("collect plain", "collect push"))
    assert keypoints.model.pixel_transport and keypoints.loss_weights.residual_attention > 0
    assert keypoints.model.coordinate_channels
    assert Path(keypoints.out_dir) == done["keypoints"].parent and not keypoints.resume
    assert policy.keypoint_model == done["keypoints"] and policy.observation == "self_model"
    assert evaluation.policies == (done["self model + policy"],) and evaluation.episodes == 100


def test_finished_steps_are_skipped_and_the_summary_comes_from_the_evaluation(tmp_path, capsys):
    for _, output, _ in pipeline_stages(tmp_path):
        output.parent.mkdir(parents=True, exist_ok=True)
        output.touch()
    (tmp_path / "evaluation" / "evaluation.json").write_text(
        '{"rows": [{"successes": 2, "episodes": 100, "ci95_low": 0.0, "ci95_high": 0.1},'
        ' {"successes": 97, "episodes": 100, "ci95_low": 0.9, "ci95_high": 0.99}]}')
    main(["--out", str(tmp_path), "--keypoint-episodes", "3", "--keypoint-steps", "8", "--policy-steps", "100",
          "--threads", "1"])
    printed = capsys.readouterr().out
    assert printed.count("skipped") == 5 and "touch from pixels: 97/100" in printed and "random 2/100" in printed
