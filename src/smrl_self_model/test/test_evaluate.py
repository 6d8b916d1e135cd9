"""`./smrl evaluate-self-model` end to end on tiny datasets collected from the sim."""
import json

import numpy as np
import pytest
from matplotlib.image import imread

from smrl_self_model.core.body_schema import BodySchema
from smrl_self_model.core.forward_model import ForwardModel
from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_self_model.evaluate import TruthMap, detect_dataset, main, train_and_score_models
from smrl_sim.core.collect import CollectConfig, collect


@pytest.fixture(scope="module")
def tiny_datasets(tmp_path_factory):
    """train_plain and eval_plain: 2 episodes of 20 frames each, other seeds."""
    root = tmp_path_factory.mktemp("datasets")
    for name, seed in (("train_plain", 0), ("eval_plain", 1)):
        collect(CollectConfig(out=root / name, episodes=2, frames=20, workers=1, seed=seed))
    return root


def test_writes_scores_strips_and_models(tiny_datasets, tmp_path, capsys):
    out = tmp_path / "out"
    # 2 x 20 frames give ~30 labeller samples: far too few for the default evidence of 150.
    main(["--data", str(tiny_datasets), "--scenes", "plain", "--out", str(out), "--min-evidence-samples", "10",
          "--strip-frames", "4"])
    result = json.loads((out / "evaluation.json").read_text())
    scene = result["scenes"]["plain"]
    assert (scene["train_episodes"], scene["held_out_episodes"]) == (2, 2)
    keypoints = scene["with_experience"]["keypoints"]
    num_keypoints = len(keypoints)
    assert num_keypoints > 0 and all(0.0 <= k["on_arm_fraction"] <= 1.0 for k in keypoints)
    assert all(k["evidence_samples"] >= 10 for k in keypoints)  # labelled, not unknown
    for labelling in ("with_experience", "held_out_only", "train_only_scored_on_train"):
        assert {"precision", "recall", "keypoints"} <= set(scene[labelling])
    per_frame = scene["per_frame"]  # 2 held-out episodes x 20 frames x K keypoints, judged online
    assert per_frame["keypoint_frames"] == 2 * 20 * num_keypoints
    assert 0.0 <= per_frame["all_self_precision"] <= 1.0 and len(per_frame["per_keypoint_truly_self"]) == num_keypoints
    frame_sweep = result["frame_rule_sweep_on_validation"]
    assert len(frame_sweep["grid"]) > 1 and {"frame_self_radius", "frame_min_score"} <= set(frame_sweep["best"])
    sweep = result["threshold_sweep_on_train"]
    assert len(sweep["thresholds"]) == len(sweep["precision"]["plain"]) and 0 < sweep["best_threshold"] < 1
    strip = imread(out / "self_model_plain.png")
    assert strip.shape[1] > 3 * strip.shape[0] and strip[..., :3].std() > 0.05  # 4 frames side by side
    models = result["models"]
    if models["self_keypoints"]:
        schema, forward = BodySchema.load(out / "body_schema.pt"), ForwardModel.load(out / "forward_model.pt")
        assert schema.self_keypoint_indices == forward.self_keypoint_indices == models["self_keypoints"]
        assert schema.keypoint_model_sha256 == result["keypoint_models"]["panda"]["sha256"]
        errors = models["body_schema"]["scenes"]["plain"]
        assert np.isfinite(errors["mean_px"]) and len(errors["per_keypoint_mean_px"]) == len(models["self_keypoints"])
        assert np.isfinite(errors["against_simulator"]["end_effector_mean_px"])
    else:
        assert "no keypoint was labelled self" in models["skipped"] and not (out / "body_schema.pt").exists()
    printed = capsys.readouterr().out
    assert "precision" in printed and "wrote" in printed and str(out / "evaluation.json") in printed


def test_models_are_trained_saved_and_scored_against_their_baselines(tiny_datasets, tmp_path):
    """The body schema and forward model part alone, on keypoints 0 and 1 whatever their labels
    (on 40 frames the labeller rarely calls any keypoint self)."""
    detector = KeypointDetector.from_checkpoint()
    train = {"plain": detect_dataset(detector, tiny_datasets / "train_plain")}
    held_out = {"plain": detect_dataset(detector, tiny_datasets / "eval_plain")}
    result = train_and_score_models(train, held_out, [0, 1], "cafe", tmp_path)
    schema, forward = BodySchema.load(tmp_path / "body_schema.pt"), ForwardModel.load(tmp_path / "forward_model.pt")
    assert schema.self_keypoint_indices == forward.self_keypoint_indices == [0, 1]
    assert schema.keypoint_model_sha256 == forward.keypoint_model_sha256 == "cafe"
    assert schema.joint_names == [f"panda_joint{i}" for i in range(1, 8)]
    assert result["train_frames"] == 40
    for model in ("body_schema", "forward_model"):
        errors = result[model]["scenes"]["plain"]
        assert 0 < errors["median_px"] and 0 < errors["mean_px"] < 64 and len(errors["per_keypoint_mean_px"]) == 2
        assert errors["baseline_mean_px"] > 0


def test_the_truth_map_locates_the_hand_from_predicted_keypoints_and_beats_the_mean():
    """Predicted keypoints that are a fixed linear image of the true hand and links (plus noise):
    the map fitted on some frames finds them on others to about the noise."""
    rng = np.random.default_rng(0)
    truth_px = rng.uniform(10, 54, (400, 3, 2))                   # end effector + 2 links
    mixing = rng.normal(0, 0.02, (6, 8))                          # 4 keypoints see all 6 coordinates
    predicted = (truth_px.reshape(400, 6) @ mixing + rng.normal(0, 0.002, (400, 8))).reshape(400, 4, 2)
    errors = TruthMap.fit(predicted[:300], truth_px[:300]).errors_px(predicted[300:], truth_px[300:])
    assert errors["end_effector_mean_px"] < 2.0 < errors["end_effector_baseline_mean_px"]
    assert errors["moving_links_mean_px"] < 2.0 < errors["moving_links_baseline_mean_px"]


def test_missing_datasets_are_collected_and_existing_ones_left_alone(tmp_path, monkeypatch):
    from smrl_self_model import evaluate
    from smrl_sim.core.episode_dataset import DatasetError, read_metadata

    monkeypatch.setattr(evaluate, "DATASETS", {"train": (1, 0), "eval": (1, 1)})
    (tmp_path / "train_push").mkdir()  # exists: used as it is, even though empty
    evaluate.collect_missing_datasets(tmp_path, ("plain", "push", "distractor_30hz"))
    assert read_metadata(tmp_path / "train_plain")["seed"] == 0 and read_metadata(tmp_path / "eval_plain")["seed"] == 1
    assert read_metadata(tmp_path / "eval_push")["push_object"] is True
    live_rate = read_metadata(tmp_path / "eval_distractor_30hz")  # the same 6 s episodes at the camera's rate
    assert live_rate["distractor_arm"] is True and live_rate["control_period_s"] * live_rate["frames_per_episode"] \
        == pytest.approx(6.0)
    assert not any((tmp_path / "train_push").iterdir())
    with pytest.raises(DatasetError, match="'kitchen' is not a scene"):
        evaluate.collect_missing_datasets(tmp_path, ("kitchen",))
