"""The probe command end to end on two tiny simulated episodes (with a distractor arm)."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from smrl_perception.core.checkpoint import shipped_model_file
from smrl_perception.probe import main
from smrl_sim.core.collect import CollectConfig, collect


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "tiny_distractor"
    collect(CollectConfig(out=out, episodes=2, frames=10, workers=1, distractor_arm=True))
    return out


def test_probe_writes_its_scores_and_a_keypoint_strip_for_each_dataset(tiny_dataset, tmp_path, capsys):
    report = main(["--data", str(tiny_dataset), "--out", str(tmp_path / "probe"), "--strip-frames", "4",
                   "--scale", "2", "--threads", "1"])
    assert json.loads((tmp_path / "probe" / "probe.json").read_text()) == json.loads(json.dumps(report))
    result = report["datasets"]["tiny_distractor"]
    num_keypoints = report["model"]["num_keypoints"]
    with shipped_model_file() as shipped:  # no --checkpoint: the shipped model, named by its bytes
        assert report["checkpoint_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert (result["episodes"], result["frames"]) == (2, 20)
    assert {"end_effector", "object", "link_0"} <= set(result["linear_probe"])
    assert np.isfinite(result["linear_probe"]["end_effector"]["mean_error_px"])
    assert list(result["placement"]["per_keypoint"]) == ["arm", "object", "distractor", "background"]
    fractions = np.array(list(result["placement"]["per_keypoint"].values()))  # (places, K)
    np.testing.assert_allclose(fractions.sum(axis=0), np.ones(num_keypoints))
    assert sum(result["placement"]["counts"].values()) == num_keypoints
    strip = Image.open(tmp_path / "probe" / "keypoints.png")
    assert strip.size == (4 * 64 * 2, 64 * 2)
    out = capsys.readouterr().out
    assert "tiny_distractor" in out and "end effector" in out


def test_probe_names_the_problem_with_unusable_inputs(tmp_path):
    with pytest.raises(SystemExit, match="not an episode .npz nor a folder"):
        main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "probe")])
    with pytest.raises(SystemExit, match="broken.pt: no such file"):
        main(["--data", str(tmp_path), "--checkpoint", str(tmp_path / "broken.pt")])
