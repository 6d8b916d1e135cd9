"""Checkpoints round-trip, and every broken file gives a CheckpointError naming file and reason."""
import hashlib
import os
import pickle
from pathlib import Path

import pytest
import torch

from smrl_perception.core.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_transporter,
    model_file_sha256,
    save_checkpoint,
    shipped_model_file,
)
from smrl_perception.core.transporter import Transporter, TransporterConfig

TINY = TransporterConfig(image_size=16, num_keypoints=3, encoder_widths=(4, 8), norm_groups=2)


@pytest.fixture
def trained_checkpoint(tmp_path: Path) -> tuple[Path, Transporter, torch.optim.Optimizer]:
    """A checkpoint at step 7 of a model that took one Adam step (so the optimizer has state)."""
    torch.manual_seed(0)
    model = Transporter(TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(2, 3, 16, 16)
    model(images, images)["reconstructed_target"].square().mean().backward()
    optimizer.step()
    return save_checkpoint(tmp_path / "run" / "checkpoint.pt", model, 7, optimizer), model, optimizer


def test_round_trip_restores_config_step_weights_and_optimizer(trained_checkpoint):
    path, model, optimizer = trained_checkpoint
    checkpoint = load_checkpoint(path, expected_config=TINY)
    assert checkpoint.config == TINY and checkpoint.step == 7
    restored = checkpoint.restore_model()
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[name], tensor, rtol=0, atol=0)
    fresh_optimizer = torch.optim.Adam(restored.parameters(), lr=1e-3)
    checkpoint.restore_optimizer(fresh_optimizer)
    saved_moments = optimizer.state_dict()["state"][0]["exp_avg"]
    torch.testing.assert_close(fresh_optimizer.state_dict()["state"][0]["exp_avg"], saved_moments)
    images = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(load_transporter(path).keypoints(images)["centers"], model.keypoints(images)["centers"])


def test_a_model_file_is_known_by_the_sha256_of_its_bytes_and_the_shipped_one_by_default(trained_checkpoint):
    path, model, _ = trained_checkpoint
    at_step_7 = model_file_sha256(path)
    assert at_step_7 == hashlib.sha256(path.read_bytes()).hexdigest()
    save_checkpoint(path, model, 8)  # a run writing its next checkpoint over the file
    assert model_file_sha256(path) != at_step_7
    with shipped_model_file("kuka_iiwa") as shipped:
        assert model_file_sha256("", robot="kuka_iiwa") == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert model_file_sha256(None) != model_file_sha256(None, robot="kuka_iiwa")


def test_a_checkpoint_without_optimizer_state_cannot_resume(tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", Transporter(TINY), step=3)
    checkpoint = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        checkpoint.restore_optimizer(torch.optim.Adam(Transporter(TINY).parameters()))


def expect_checkpoint_error(path: Path, reason: str, **kwargs) -> CheckpointError:
    with pytest.raises(CheckpointError, match=reason) as caught:
        load_checkpoint(path, **kwargs)
    assert caught.value.path == path and str(path) in str(caught.value)
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no raw traceback
    return error


def test_missing_file(tmp_path):
    expect_checkpoint_error(tmp_path / "nothing_here.pt", "no such file")


def test_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not the weights you are looking for\n")
    expect_checkpoint_error(path, "not a readable checkpoint")


def test_truncated_file(trained_checkpoint):
    path = trained_checkpoint[0]
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    expect_checkpoint_error(path, "not a readable checkpoint")


def test_corrupted_bytes(trained_checkpoint):
    path = trained_checkpoint[0]
    content = bytearray(path.read_bytes())
    content[len(content) // 3 : len(content) // 3 + 2000] = bytes(2000)
    path.write_bytes(bytes(content))
    expect_checkpoint_error(path, "not a readable checkpoint")


def test_torch_file_of_something_else(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    expect_checkpoint_error(path, "not a smrl_perception.transporter checkpoint")


def test_wrong_format_version(trained_checkpoint):
    path = trained_checkpoint[0]
    content = torch.load(path, weights_only=True)
    content["format_version"] = 99
    torch.save(content, path)
    expect_checkpoint_error(path, "format version 99")


def test_config_mismatch_names_the_differing_setting(trained_checkpoint):
    path = trained_checkpoint[0]
    error = expect_checkpoint_error(path, "model config differs", expected_config=TransporterConfig(
        image_size=16, num_keypoints=4, encoder_widths=(4, 8), norm_groups=2))
    assert "num_keypoints" in str(error) and "image_size" not in str(error)


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["SMRL_TEST_MARKER"]),))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    monkeypatch.setenv("SMRL_TEST_MARKER", str(marker))
    path = tmp_path / "evil.pt"
    with path.open("wb") as file:
        pickle.dump({"format": "smrl_perception.transporter", "payload": RunsCodeWhenUnpickled()}, file, protocol=2)
    expect_checkpoint_error(path, "not a readable checkpoint")
    assert not marker.exists()
