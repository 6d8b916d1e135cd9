"""The main job end to end: `./smrl demo` starts the graph as separate processes over real DDS,
records a bag and writes its pictures and summary."""
import json
import subprocess
import sys

from PIL import Image

from smrl_bag.core.bag_playback import BagPlayback
from smrl_self_model.core.body_schema import load_shipped_body_schema


def test_the_demo_runs_the_graph_as_processes_and_writes_its_bag_pictures_and_summary(tmp_path):
    result = subprocess.run([sys.executable, "-m", "smrl_bringup.demo", "--duration-s", "6", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[demo] self model:" in result.stdout and "separate processes" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["nodes"]) == {"sim", "scripted_motion", "keypoint_detector", "self_model", "recorder"}
    assert all(node == {"exit_code": 0, "died": False} for node in summary["nodes"].values()), summary["nodes"]
    rates = summary["rates_hz"]
    assert rates["camera/image_raw"] > 10 and rates["joint_states"] > 30, rates
    # Every image gets keypoints and every keypoint frame a self model state (a few may be superseded).
    received = summary["received"]
    assert received["keypoints"] >= 0.8 * received["camera/image_raw"], received
    assert received["self_model/state"] >= 0.8 * received["keypoints"], received
    assert 0 < summary["latency_image_to_self_model_state_ms"]["median"] < 500, summary
    memory = summary["graph_memory_mb"]
    assert 0 < memory["pss_total_peak"] <= memory["rss_total_peak"] <= 2000, memory
    assert set(memory["rss_peak_by_node"]) == set(summary["nodes"])
    assert summary["rejected_commands"] == {}
    # On a loaded machine a keypoint frame can reach the self model after the joint states it needs
    # left its history (seen: 2 of ~170 frames, with a busy-loop on one core): dropped and counted,
    # at most 5 % of the frames. At start-up, DDS may match the keypoints before the joint states
    # (seen: 37-64 frames before the first joint states, with a training job on the machine): counted
    # too, and bounded by 3 s of camera frames.
    dropped = dict(summary["dropped"]["self_model"])
    before_first_joint_states = dropped.pop("keypoints: no joint states", 0)
    assert before_first_joint_states <= 3.0 * rates["camera/image_raw"], summary["dropped"]
    assert set(dropped) <= {"keypoints: keypoints older than the joint states"}, dropped
    assert sum(dropped.values()) <= 0.05 * received["keypoints"], dropped
    assert summary["labeller_samples"] > 0 and max(summary["joint_range_rad"]) > 0.3
    assert len(summary["final_labels"]) == 8 and summary["body_schema_error_px_last_100"] < 10
    assert summary["body_schema_keypoints"] == load_shipped_body_schema().self_keypoint_indices
    for name in ("camera.png", "camera_strip.png", "self_model_strip.png", "run.gif"):
        assert str(tmp_path / name) in summary["files"]
        assert Image.open(tmp_path / name).size[0] >= 64
    assert Image.open(tmp_path / "run.gif").n_frames > 10
    assert BagPlayback(tmp_path / "bag", ["self_model/state"]).message_count >= received["self_model/state"]
    for name in summary["nodes"]:
        assert (tmp_path / "logs" / f"{name}.log").is_file()
