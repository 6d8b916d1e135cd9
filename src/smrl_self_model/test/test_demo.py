"""The main job end to end: `./smrl demo` runs the whole graph over real DDS and writes its results."""
import json

from PIL import Image

from smrl_self_model.demo import main


def test_the_demo_runs_the_graph_and_writes_its_pictures_and_summary(tmp_path):
    main(["--duration-s", "8", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "summary.json").read_text())
    rates = summary["rates_hz"]
    assert rates["camera/image_raw"] > 10 and rates["joint_states"] > 30, rates
    # Every image gets keypoints and every keypoint frame a self model state (a few may be superseded).
    assert summary["received"]["keypoints"] >= 0.9 * summary["received"]["camera/image_raw"], summary["received"]
    assert summary["received"]["self_model/state"] >= 0.9 * summary["received"]["keypoints"], summary["received"]
    assert summary["dropped"]["self_model_node"] == {} and summary["rejected_commands"] == {}
    assert summary["labeller_samples"] > 0 and max(summary["joint_range_rad"]) > 0.3
    assert len(summary["final_labels"]) == 8 and summary["body_schema_error_px_last_100"] < 10
    for name in ("camera.png", "camera_strip.png", "self_model_strip.png"):
        assert str(tmp_path / name) in summary["files"]
        assert Image.open(tmp_path / name).size[0] >= 64
