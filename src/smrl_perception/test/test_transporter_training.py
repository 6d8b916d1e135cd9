"""The loss, the training run (files, resume) and the training command's defaults."""
import json

import numpy as np
import pytest
import torch

from smrl_perception.core.checkpoint import CheckpointError, load_checkpoint
from smrl_perception.core.loss import LossWeights, colour_consistency, residual_attention, transporter_loss
from smrl_perception.core.pair_dataset import Episode, FramePairs
from smrl_perception.core.training import TrainConfig, train
from smrl_perception.core.transporter import Transporter, TransporterConfig, images_to_tensor
from smrl_perception.train import parse_args

TINY = TransporterConfig(image_size=32, num_keypoints=4, encoder_widths=(8, 16), norm_groups=4)


def test_loss_falls_when_training_on_pairs_of_a_moving_square(make_frames):
    torch.manual_seed(0)
    pairs = FramePairs([Episode(str(seed), make_frames(20, seed=seed)) for seed in range(4)], 1, 3)
    model = Transporter(TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    totals = []
    for _ in range(30):
        source, target = (images_to_tensor(frames) for frames in pairs.sample(8, rng))
        losses = transporter_loss(model, source, target)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        totals.append(losses["total"].item())
    print(f"loss {np.mean(totals[:3]):.4f} -> {np.mean(totals[-5:]):.4f}")
    assert np.mean(totals[-5:]) < 0.2 * np.mean(totals[:3])


def test_loss_is_the_weighted_sum_and_consistency_is_zero_for_a_perfect_reconstruction():
    torch.manual_seed(0)
    model = Transporter(TINY)
    images = torch.rand(2, 3, 32, 32)
    losses = transporter_loss(model, images, images, LossWeights(reconstruction=2.0, consistency=3.0))
    torch.testing.assert_close(losses["total"], 2.0 * losses["reconstruction"] + 3.0 * losses["consistency"])
    model.refine_net.forward = lambda features: images  # a perfect reconstruction of the target
    assert transporter_loss(model, images, images)["consistency"] == 0.0


def tiny_run(data, out_dir, steps: int) -> TrainConfig:
    return TrainConfig(
        data=[str(data)], out_dir=str(out_dir), model=TINY, steps=steps, batch_size=4, held_out_fraction=0.25,
        eval_every_steps=2, eval_pairs=8, checkpoint_every_steps=2, num_threads=1, progress_bar=False,
    )


def test_a_run_writes_checkpoint_and_learning_curve_and_resumes_where_it_stopped(episode_dataset, tmp_path):
    run_dir = tmp_path / "run"
    first = train(tiny_run(episode_dataset, run_dir, steps=4))
    assert first.steps == 4 and first.steps_this_run == 4
    assert {p.name for p in first.files} == {
        "checkpoint.pt", "learning_curve.json", "learning_curve.csv", "learning_curve.png"}
    assert all(p.stat().st_size > 0 for p in first.files)
    assert load_checkpoint(run_dir / "checkpoint.pt").step == 4

    resumed = train(tiny_run(episode_dataset, run_dir, steps=6))
    assert resumed.steps == 6 and resumed.steps_this_run == 2
    assert load_checkpoint(run_dir / "checkpoint.pt").step == 6
    records = json.loads((run_dir / "learning_curve.json").read_text())["records"]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all(r["eval_total"] > 0 and r["train_total"] > 0 for r in records)
    assert (run_dir / "learning_curve.csv").read_text().count("\n") == 4  # header + 3 records


def test_resuming_with_another_model_config_is_refused(episode_dataset, tmp_path):
    train(tiny_run(episode_dataset, tmp_path / "run", steps=2))
    other = tiny_run(episode_dataset, tmp_path / "run", steps=4)
    other.model = TransporterConfig(image_size=32, num_keypoints=6, encoder_widths=(8, 16), norm_groups=4)
    with pytest.raises(CheckpointError, match="num_keypoints"):
        train(other)


def test_the_command_line_defaults_are_the_train_config_defaults():
    assert parse_args(["--data", "some/dataset"]) == TrainConfig(data=["some/dataset"])
    config = parse_args(["--data", "a", "b", "--keypoints", "5", "--widths", "8", "16", "--no-resume"])
    assert config.data == ["a", "b"] and config.model.num_keypoints == 5
    assert config.model.encoder_widths == (8, 16) and not config.resume


def test_residual_attention_pulls_only_the_heatmap_nearest_the_worst_error_towards_it():
    logits = torch.zeros(1, 3, 4, 4)
    logits[0, 1, 3, 2] = 2.0          # heatmap 1 already leans towards cell (3, 2)
    logits = logits.requires_grad_()
    target = torch.zeros(1, 3, 16, 16)
    target[0, :, 12:16, 8:12] = 1.0   # the reconstruction (all zeros) is most wrong in cell (3, 2)
    heatmaps = torch.softmax(logits.flatten(2), -1).reshape(1, 3, 4, 4)
    residual_attention(torch.zeros_like(target), target, heatmaps).backward()
    assert logits.grad[0, [0, 2]].abs().max() == 0.0                  # the others are left alone
    assert logits.grad[0, 1, 3, 2] < 0 and (logits.grad[0, 1].flatten()[:-6] > 0).all()  # mass moves there


def test_colour_consistency_draws_a_keypoint_back_to_the_colour_it_has_in_the_rest_of_the_batch():
    green, orange = torch.tensor([0.1, 0.8, 0.2]), torch.tensor([0.9, 0.4, 0.1])
    images = torch.zeros(4, 3, 16, 16)
    images[:, :, 0:4, 0:4] = green[:, None, None]      # cell (0, 0) is green in every frame
    images[:, :, 12:16, 12:16] = orange[:, None, None]  # cell (3, 3) orange
    logits = torch.zeros(4, 1, 4, 4)
    logits[:3, 0, 0, 0] = 5.0                            # on the green cell in three frames...
    logits[3, 0, 3, 3] = 2.0                             # ...leaning to the orange one in the fourth
    logits.requires_grad_()
    optimizer = torch.optim.SGD([logits], lr=10.0)
    for _ in range(50):
        optimizer.zero_grad()
        colour_consistency(images, torch.softmax(logits.flatten(2), -1).reshape(4, 1, 4, 4)).backward()
        optimizer.step()
    peaks = logits.detach().flatten(1).argmax(dim=1)
    assert (peaks == 0).all()  # all four on the green cell (0, 0), none left on orange


def test_colour_consistency_costs_more_for_a_spread_out_heatmap_than_for_one_on_a_single_colour():
    images = torch.rand(2, 3, 16, 16)
    images[:, :, 0:4, 0:4] = 0.5
    on_one_cell = torch.zeros(2, 1, 4, 4)
    on_one_cell[:, 0, 0, 0] = 1.0
    spread_out = torch.full((2, 1, 4, 4), 1 / 16)
    assert colour_consistency(images, on_one_cell) < 1e-6 < colour_consistency(images, spread_out)


def test_with_pixel_transport_and_residual_attention_a_keypoint_finds_a_small_moving_square(make_frames):
    torch.manual_seed(0)
    pairs = FramePairs([Episode(str(seed), make_frames(20, seed=seed)) for seed in range(4)], 1, 3)
    model = Transporter(TransporterConfig(image_size=32, num_keypoints=1, encoder_widths=(8, 16), norm_groups=4,
                                          pixel_transport=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    weights = LossWeights(residual_attention=0.002)
    for _ in range(60):
        source, target = (images_to_tensor(frames) for frames in pairs.sample(8, rng))
        losses = transporter_loss(model, source, target, weights)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
    frames = make_frames(20, seed=7)
    with torch.no_grad():
        centers = model.keypoints(images_to_tensor(frames))["centers"][:, 0].numpy()
    centers_px = (centers + 1) / 2 * 32 - 0.5
    square_px = np.array([np.argwhere(frame[..., 0] > 200).mean(0)[::-1] for frame in frames])  # (x, y)
    distance = np.linalg.norm(centers_px - square_px, axis=1)
    print(f"keypoint to square: median {np.median(distance):.1f} px")
    assert np.median(distance) < 3.0
