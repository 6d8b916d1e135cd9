"""The Transporter's parts: output shapes and ranges, and the keypoint coordinate convention."""
import numpy as np
import pytest
import torch

from smrl_perception.core.transporter import (
    Transporter,
    TransporterConfig,
    gaussian_maps,
    images_to_tensor,
    spatial_softmax,
    transport,
)

TINY = TransporterConfig(image_size=32, num_keypoints=5, encoder_widths=(8, 16), norm_groups=4)


def random_images(batch: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    generator = np.random.default_rng(seed)
    return images_to_tensor(generator.integers(0, 256, (batch, size, size, 3), dtype=np.uint8))


def test_forward_returns_every_output_with_its_shape_and_range():
    torch.manual_seed(0)
    model = Transporter(TINY)
    outputs = model(random_images(3, seed=1), random_images(3, seed=2))
    assert outputs["reconstructed_target"].shape == (3, 3, 32, 32)
    assert outputs["features_source"].shape == outputs["features_target"].shape == (3, 16, 8, 8)
    for keypoints in (outputs["keypoints_source"], outputs["keypoints_target"]):
        assert keypoints["centers"].shape == (3, 5, 2)
        assert keypoints["intensities"].shape == (3, 5)
        assert keypoints["heatmaps"].shape == keypoints["gaussian_maps"].shape == (3, 5, 8, 8)
        assert keypoints["centers"].abs().max() <= 1.0
        assert 0.0 <= keypoints["intensities"].min() and keypoints["intensities"].max() <= 1.0
        torch.testing.assert_close(keypoints["heatmaps"].sum(dim=(2, 3)), torch.ones(3, 5))
        assert 0.0 <= keypoints["gaussian_maps"].min() and keypoints["gaussian_maps"].max() <= 1.0


def test_keypoints_alone_match_the_keypoints_of_forward():
    torch.manual_seed(0)
    model = Transporter(TINY).eval()
    images = random_images(2)
    with torch.inference_mode():
        alone = model.keypoints(images)
        in_forward = model(images, images)["keypoints_target"]
    torch.testing.assert_close(alone["centers"], in_forward["centers"])


def test_keypoints_reject_images_of_another_size():
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        Transporter(TINY).keypoints(random_images(1, size=64))


def test_channels_last_gives_the_same_keypoints_as_contiguous():
    torch.manual_seed(0)
    model = Transporter(TINY).eval()
    images = random_images(2)
    with torch.inference_mode():
        contiguous = model.keypoints(images.contiguous())["centers"]
        channels_last = model.to(memory_format=torch.channels_last).keypoints(images)["centers"]
    torch.testing.assert_close(channels_last, contiguous, atol=1e-5, rtol=1e-4)


def test_spatial_softmax_puts_a_sharp_blob_at_its_cell_centre():
    # Cell (row 5, column 3) of a 16 x 12 (h x w) map: x = (3 + 0.5) / 12 * 2 - 1, y = (5 + 0.5) / 16 * 2 - 1.
    logits = torch.full((1, 1, 16, 12), -50.0)
    logits[0, 0, 5, 3] = 50.0
    centers, intensities, heatmaps = spatial_softmax(logits)
    torch.testing.assert_close(centers[0, 0], torch.tensor([3.5 / 12 * 2 - 1, 5.5 / 16 * 2 - 1]))
    assert intensities[0, 0] > 0.99
    assert heatmaps[0, 0, 5, 3] > 0.99


def test_spatial_softmax_of_a_two_cell_blob_is_between_them_and_a_flat_map_is_centred_and_faint():
    logits = torch.full((1, 2, 8, 8), -50.0)
    logits[0, 0, 0, 6:8] = 50.0   # top row, last two columns: x between their centres, y at row 0
    logits[0, 1] = 0.0            # uniform
    centers, intensities, _ = spatial_softmax(logits)
    torch.testing.assert_close(centers[0, 0], torch.tensor([7.0 / 8 * 2 - 1, 0.5 / 8 * 2 - 1]))
    torch.testing.assert_close(centers[0, 1], torch.zeros(2), atol=1e-6, rtol=0)
    assert intensities[0, 1] < 1e-3 < 0.8 < intensities[0, 0]


def test_gaussian_map_peaks_at_its_centre_with_the_configured_width():
    height, width, std = 8, 8, 0.1
    centre = torch.tensor([[[2.5 / 8 * 2 - 1, 4.5 / 8 * 2 - 1]]])  # the centre of cell (row 4, column 2)
    maps = gaussian_maps(centre, height, width, std)
    assert maps.shape == (1, 1, 8, 8)
    assert maps[0, 0, 4, 2] == pytest.approx(1.0)
    one_cell = 2.0 / 8  # normalised distance between neighbouring cells
    assert maps[0, 0, 4, 3] == pytest.approx(np.exp(-(one_cell**2) / (2 * std**2)), rel=1e-5)


def test_transport_pastes_target_features_at_target_keypoints_and_keeps_the_source_elsewhere():
    source_features, target_features = torch.zeros(1, 4, 8, 8), torch.ones(1, 4, 8, 8)
    no_keypoint = torch.zeros(1, 1, 8, 8)
    at_cell = torch.zeros(1, 1, 8, 8)
    at_cell[0, 0, 2, 5] = 1.0
    # A source keypoint alone cuts the source out there and pastes nothing.
    cut = transport(source_features + 3.0, target_features, at_cell, no_keypoint)
    assert cut[0, :, 2, 5].abs().max() == 0.0 and cut[0, :, 0, 0].min() == 3.0
    # A target keypoint pastes the target's features there; the source stays elsewhere.
    pasted = transport(source_features, target_features, no_keypoint, at_cell)
    assert pasted[0, :, 2, 5].min() == 1.0 and pasted[0, :, 0, 0].max() == 0.0


def test_images_to_tensor_scales_uint8_hwc_to_float_chw_in_channels_last_layout():
    frame = np.zeros((16, 20, 3), dtype=np.uint8)
    frame[3, 7] = (255, 0, 51)
    images = images_to_tensor(frame)
    assert images.shape == (1, 3, 16, 20) and images.dtype == torch.float32
    assert images.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(images[0, :, 3, 7], torch.tensor([1.0, 0.0, 0.2]))
    assert images.sum() == pytest.approx(1.2)
    with pytest.raises(ValueError, match="uint8"):
        images_to_tensor(frame.astype(np.float32))


def test_config_rejects_sizes_the_encoder_cannot_take():
    with pytest.raises(ValueError, match="multiple of 4"):
        TransporterConfig(image_size=66)
    with pytest.raises(ValueError, match="norm_groups"):
        TransporterConfig(encoder_widths=(6, 16), norm_groups=4)


def test_pixel_transport_copies_source_pixels_pastes_target_pixels_at_its_keypoints_and_marks_holes():
    model = Transporter(TransporterConfig(image_size=32, num_keypoints=1, encoder_widths=(8, 16), norm_groups=4,
                                          pixel_transport=True))
    source, target = torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32)
    source_mask, target_mask = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    source_mask[0, 0, 1, 1] = 1.0   # the thing was at pixels 4-7 x 4-7 ...
    target_mask[0, 0, 5, 6] = 1.0   # ... and went to pixels 20-23 (rows) x 24-27 (columns)
    pixels, holes = model.transported_pixels(source + 0.5, target, source_mask, target_mask)
    assert pixels[0, :, 21:23, 25:27].min() > 0.75    # the target's pixels where it arrived
    assert pixels[0, :, 5:7, 5:7].max() < 0.25 and holes[0, 0, 5:7, 5:7].min() > 0.75  # cut out where it left: a hole
    assert pixels[0, :, 30, 2].min() == 0.5 and holes[0, 0, 30, 2] == 0.0  # the source's pixels elsewhere
    reconstructed = model(source, target)["reconstructed_target"]
    assert reconstructed.shape == (1, 3, 32, 32) and torch.isfinite(reconstructed).all()


def test_without_coordinate_channels_two_look_alike_things_get_the_same_heatmap_score_with_them_not():
    """Two identical squares, far enough from the borders and each other that no convolution reaches
    both or the padding: a plain keypoint encoder scores both places exactly alike, so its spatial
    softmax cannot prefer one (the keypoint sits between, or flips with noise: keypoints switching
    between the agent's arm and a look-alike arm). With the pixel coordinates appended it can."""
    image = torch.zeros(1, 3, 64, 64)
    image[..., 26:30, 18:22] = image[..., 26:30, 42:46] = 1.0   # cells (7, 5) and (7, 11) at 1/4 size
    for coordinate_channels in (False, True):
        torch.manual_seed(0)
        config = TransporterConfig(image_size=64, num_keypoints=3, coordinate_channels=coordinate_channels)
        with torch.no_grad():
            logits = Transporter(config).keypoint_encoder(image)[0]
        difference = (logits[:, 7, 5] - logits[:, 7, 11]).abs().max().item()
        assert (difference < 1e-4) if not coordinate_channels else (difference > 0.1), (coordinate_channels, difference)


def test_coordinate_channels_are_the_pixel_centres_normalised_coordinates():
    model = Transporter(TransporterConfig(image_size=32, num_keypoints=2, coordinate_channels=True))
    with_coordinates = model.keypoint_encoder[0](torch.zeros(2, 3, 32, 32))
    assert with_coordinates.shape == (2, 5, 32, 32)
    torch.testing.assert_close(with_coordinates[1, 3, 5], (torch.arange(32) + 0.5) / 32 * 2 - 1)  # x, along a row
    torch.testing.assert_close(with_coordinates[1, 4, :, 5], (torch.arange(32) + 0.5) / 32 * 2 - 1)  # y, down a column
    assert model.keypoints(torch.zeros(2, 3, 32, 32))["centers"].shape == (2, 2, 2)
