"""The Transporter: unsupervised image keypoints (Kulkarni et al., NeurIPS 2019, arXiv 1906.11883).

Two frames of the same scene, `source` and `target`, go through two encoders: an image encoder
gives feature maps, a keypoint encoder gives K heatmaps and from them K keypoint centres. The
target is rebuilt from the source's features, with the regions around the source's and the
target's keypoints cut out and the target's features pasted in at the target's keypoints. What
changes between the frames can only get into the reconstruction through the keypoints, so they
learn to sit on what moves: here the arm (and whatever it pushes).

Shapes (B = batch, K = keypoints, C = feature channels, H x W = image, h x w = H/4 x W/4):

    image (B, 3, H, W) float in [0, 1]
      -> ImageEncoder    -> features (B, C, h, w)
      -> KeypointEncoder -> heatmap logits (B, K, h, w)
      -> spatial_softmax -> centres (B, K, 2) normalised (x, y), intensities (B, K), heatmaps
      -> gaussian_maps   -> (B, K, h, w), 1 at each centre
    transport(features, gaussian maps of both frames) -> (B, C, h, w)
      -> RefineNet      -> reconstructed target (B, 3, H, W)
      (+ PixelBlend of the frames' pixels transported with the same masks, if `pixel_transport`)

Normalised coordinates follow docs/architecture.md: x right, y down, in [-1, 1], pixel centres
at (u + 0.5) / W * 2 - 1. A feature cell covers 4 x 4 pixels and its centre obeys the same rule at
the feature size, so centres need no conversion between the two grids.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Each stride-2 step halves the image; the encoders take two, so features are 1/4 of the image.
FEATURE_STRIDE = 4
#: Initial scale of the heatmap layer; see KeypointEncoder.
HEATMAP_INIT_GAIN = 10.0


@dataclass(frozen=True)
class TransporterConfig:
    image_size: int = 64                    # px, square images; a multiple of 4
    num_keypoints: int = 8
    encoder_widths: tuple[int, int] = (16, 32)  # channels at 1/2 and 1/4 of the image size
    gaussian_std: float = 0.1               # normalised units (the image is 2 wide)
    norm_groups: int = 4                    # GroupNorm groups per layer (1 = LayerNorm-like)
    pixel_transport: bool = False           # transport the frames' pixels too (see PixelBlend)
    coordinate_channels: bool = False       # the keypoint encoder sees each pixel's (x, y) too (see KeypointEncoder)

    def __post_init__(self) -> None:
        if self.image_size % FEATURE_STRIDE or self.image_size < 16:
            raise ValueError(f"image_size {self.image_size} px must be a multiple of 4 and >= 16")
        if self.num_keypoints < 1 or self.gaussian_std <= 0:
            raise ValueError("num_keypoints must be >= 1 and gaussian_std > 0")
        if len(self.encoder_widths) != 2 or any(w % self.norm_groups for w in self.encoder_widths):
            raise ValueError(
                f"encoder_widths {self.encoder_widths} must be two widths divisible by norm_groups "
                f"{self.norm_groups}"
            )

    @classmethod
    def from_dict(cls, values: dict) -> TransporterConfig:
        """Inverse of `dataclasses.asdict` (lists from JSON/YAML become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


class Keypoints(TypedDict):
    centers: torch.Tensor        # (B, K, 2) normalised (x, y)
    intensities: torch.Tensor    # (B, K) in [0, 1]: 1 = all heatmap mass in one cell, 0 = uniform
    heatmaps: torch.Tensor       # (B, K, h, w) spatial softmax, each map sums to 1
    gaussian_maps: torch.Tensor  # (B, K, h, w) in [0, 1], 1 at the centre


def conv_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int) -> nn.Sequential:
    """Conv -> GroupNorm -> ReLU; GroupNorm because batch norm trains badly with small batches."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.GroupNorm(groups, out_channels),
        nn.ReLU(inplace=True),
    )


class ImageEncoder(nn.Sequential):
    """(B, 3, H, W) -> (B, widths[-1], H/4, W/4): a 7x7 conv, then per width a stride-2 3x3 and a 3x3."""

    def __init__(self, config: TransporterConfig, in_channels: int = 3) -> None:
        first, second = config.encoder_widths
        groups = config.norm_groups
        super().__init__(
            conv_block(in_channels, first, 7, 1, groups),  # (B, first, H, W)
            conv_block(first, first, 3, 2, groups),    # (B, first, H/2, W/2)
            conv_block(first, first, 3, 1, groups),
            conv_block(first, second, 3, 2, groups),   # (B, second, H/4, W/4)
            conv_block(second, second, 3, 1, groups),
        )


class CoordinateChannels(nn.Module):
    """(B, C, H, W) -> (B, C + 2, H, W): each pixel's normalised x and y appended (CoordConv, Liu et
    al. 2018). Convolutions are translation-equivariant, so without them a heatmap peaks on
    whichever of two look-alike things matches its filters best, and keypoints switch between the
    agent's arm and a look-alike arm; with them a heatmap can prefer where its body part can be."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = images.shape
        ys = normalised_grid(height, images).view(1, 1, height, 1).expand(batch, 1, height, width)
        xs = normalised_grid(width, images).view(1, 1, 1, width).expand(batch, 1, height, width)
        return torch.cat([images, xs, ys], dim=1)


class KeypointEncoder(nn.Sequential):
    """(B, 3, H, W) -> (B, K, H/4, W/4) heatmap logits: an own ImageEncoder and a 1x1 conv (with
    `coordinate_channels`, the encoder sees the pixel coordinates too: CoordinateChannels).

    The 1x1 conv starts with HEATMAP_INIT_GAIN times PyTorch's default weights, so the first
    heatmaps already peak on salient image regions. With near-uniform first heatmaps every
    keypoint starts at the image centre, the Gaussian maps there reach nothing that moves
    elsewhere, and training stalls (a moving square: keypoints never left the centre in 500 steps;
    with the gain they sat on it within 50).
    """

    def __init__(self, config: TransporterConfig) -> None:
        heatmap_conv = nn.Conv2d(config.encoder_widths[-1], config.num_keypoints, kernel_size=1)
        with torch.no_grad():
            heatmap_conv.weight.mul_(HEATMAP_INIT_GAIN)
        encoder = ([CoordinateChannels(), ImageEncoder(config, in_channels=5)] if config.coordinate_channels
                   else [ImageEncoder(config)])
        super().__init__(*encoder, heatmap_conv)


class RefineNet(nn.Sequential):
    """(B, widths[-1], H/4, W/4) transported features -> (B, 3, H, W) image; mirrors the encoder.

    The output is linear (not squashed to [0, 1]) so the reconstruction loss never saturates.
    """

    def __init__(self, config: TransporterConfig) -> None:
        first, second = config.encoder_widths
        groups = config.norm_groups
        super().__init__(
            conv_block(second, second, 3, 1, groups),  # (B, second, H/4, W/4)
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            conv_block(second, first, 3, 1, groups),   # (B, first, H/2, W/2)
            conv_block(first, first, 3, 1, groups),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            conv_block(first, first, 3, 1, groups),    # (B, first, H, W)
            nn.Conv2d(first, 3, kernel_size=7, padding=3),  # (B, 3, H, W)
        )


class PixelBlend(nn.Sequential):
    """(B, 3 + 3 + 1, H, W) refine-net image, transported pixels, hole mask -> (B, 3, H, W) image.

    With `pixel_transport` the frames' pixels are transported like the features, at full
    resolution: the source's pixels where no keypoint of either frame is, the target's at the
    target's keypoints. The 16-32 feature channels at 1/4 of the image blur a 4 px object away, so
    without this a keypoint on it buys nothing; with it, everything that stands still is copied
    exactly and the only error left is what moved and no keypoint covers.
    """

    def __init__(self, config: TransporterConfig) -> None:
        first = config.encoder_widths[0]
        super().__init__(
            nn.Conv2d(7, first, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(first, 3, kernel_size=3, padding=1),
        )


def normalised_grid(size: int, like: torch.Tensor) -> torch.Tensor:
    """(size,) normalised coordinates of the cell centres of one image axis: (i + 0.5) / size * 2 - 1."""
    return (torch.arange(size, dtype=like.dtype, device=like.device) + 0.5) / size * 2.0 - 1.0


def spatial_softmax(heatmap_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, K, h, w) logits -> centres (B, K, 2), intensities (B, K), heatmaps (B, K, h, w).

    The centre is the heatmap's expected (x, y). The intensity is how concentrated the heatmap
    is: 1 - (its spatial std / the std of a uniform heatmap), clipped to [0, 1]; a keypoint that
    found nothing to sit on spreads out and fades.
    """
    batch, num_keypoints, height, width = heatmap_logits.shape
    heatmaps = torch.softmax(heatmap_logits.reshape(batch, num_keypoints, -1), dim=-1)
    heatmaps = heatmaps.reshape(batch, num_keypoints, height, width)
    xs = normalised_grid(width, heatmaps)
    ys = normalised_grid(height, heatmaps)
    x_mass = heatmaps.sum(dim=2)  # (B, K, w)
    y_mass = heatmaps.sum(dim=3)  # (B, K, h)
    center_x = (x_mass * xs).sum(-1)
    center_y = (y_mass * ys).sum(-1)
    variance = (x_mass * xs**2).sum(-1) - center_x**2 + (y_mass * ys**2).sum(-1) - center_y**2
    uniform_variance = (xs**2).mean() + (ys**2).mean()
    spread = torch.sqrt(variance.clamp(min=1e-12) / uniform_variance)
    intensities = (1.0 - spread).clamp(0.0, 1.0)
    return torch.stack([center_x, center_y], dim=-1), intensities, heatmaps


def gaussian_maps(centers: torch.Tensor, height: int, width: int, std: float) -> torch.Tensor:
    """(B, K, 2) normalised centres -> (B, K, h, w) exp(-d^2 / (2 std^2)), d in normalised units."""
    xs = normalised_grid(width, centers)
    ys = normalised_grid(height, centers)
    dx2 = (xs.view(1, 1, 1, width) - centers[..., 0, None, None]) ** 2
    dy2 = (ys.view(1, 1, height, 1) - centers[..., 1, None, None]) ** 2
    return torch.exp(-(dx2 + dy2) / (2.0 * std**2))


def transport(
    source_features: torch.Tensor,
    target_features: torch.Tensor,
    source_gaussians: torch.Tensor,
    target_gaussians: torch.Tensor,
) -> torch.Tensor:
    """Source features (B, C, h, w) with every keypoint region of both frames (B, K, h, w) cut
    out, and the target features pasted in at the target keypoints (all K at once)."""
    keep_source = ((1.0 - source_gaussians) * (1.0 - target_gaussians)).prod(dim=1, keepdim=True)
    paste_target = 1.0 - (1.0 - target_gaussians).prod(dim=1, keepdim=True)
    return keep_source * source_features + paste_target * target_features


class Transporter(nn.Module):
    """Image encoder, keypoint encoder and refine net; `keypoints` alone is what runs on the robot."""

    def __init__(self, config: TransporterConfig) -> None:
        super().__init__()
        self.config = config
        #: Std of the Gaussian maps (normalised); training may start it wider (see TrainConfig).
        self.gaussian_std = config.gaussian_std
        #: Share of the heatmap itself in the transport masks (training may start above 0, see
        #: TrainConfig); 0 is the Transporter's Gaussian-at-the-centre masks, and inference.
        self.heatmap_mask_weight = 0.0
        self.image_encoder = ImageEncoder(config)
        self.keypoint_encoder = KeypointEncoder(config)
        self.refine_net = RefineNet(config)
        self.pixel_blend = PixelBlend(config) if config.pixel_transport else None

    def keypoints(self, images: torch.Tensor) -> Keypoints:
        """(B, 3, H, W) images in [0, 1] -> their keypoints (the keypoint path only)."""
        size = self.config.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise ValueError(f"expected images (B, 3, {size}, {size}), got {tuple(images.shape)}")
        heatmap_logits = self.keypoint_encoder(images)
        centers, intensities, heatmaps = spatial_softmax(heatmap_logits)
        height, width = heatmaps.shape[-2:]
        return Keypoints(
            centers=centers,
            intensities=intensities,
            heatmaps=heatmaps,
            gaussian_maps=gaussian_maps(centers, height, width, self.gaussian_std),
        )

    def transport_masks(self, keypoints: Keypoints) -> torch.Tensor:
        return transport_masks_of(keypoints, self.heatmap_mask_weight)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> dict:
        """Reconstruct `target` (B, 3, H, W) from `source` and both frames' keypoints."""
        keypoints_source = self.keypoints(source)
        keypoints_target = self.keypoints(target)
        features_source = self.image_encoder(source)
        features_target = self.image_encoder(target)
        source_masks = self.transport_masks(keypoints_source)
        target_masks = self.transport_masks(keypoints_target)
        transported = transport(features_source, features_target, source_masks, target_masks)
        reconstructed = self.refine_net(transported)
        if self.pixel_blend is not None:
            reconstructed = reconstructed + self.pixel_blend(
                torch.cat([reconstructed, *self.transported_pixels(source, target, source_masks, target_masks)], 1))
        return {
            "reconstructed_target": reconstructed,
            "features_source": features_source,
            "features_target": features_target,
            "keypoints_source": keypoints_source,
            "keypoints_target": keypoints_target,
        }


    def transported_pixels(self, source: torch.Tensor, target: torch.Tensor, source_masks: torch.Tensor,
                           target_masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The frames' pixels (B, 3, H, W) transported with the masks (B, K, h, w) brought to full
        resolution, and the holes (B, 1, H, W) where neither frame's pixels are kept."""
        size = self.config.image_size
        source_masks = F.interpolate(source_masks, size=(size, size), mode="bilinear", align_corners=False)
        target_masks = F.interpolate(target_masks, size=(size, size), mode="bilinear", align_corners=False)
        ones = torch.ones_like(source[:, :1])
        pixels = transport(source, target, source_masks, target_masks)
        covered = transport(ones, ones, source_masks, target_masks)
        return pixels, 1.0 - covered


def transport_masks_of(keypoints: Keypoints, heatmap_mask_weight: float) -> torch.Tensor:
    """(B, K, h, w) masks in [0, 1] for `transport`: the Gaussian maps, blended with the heatmaps
    scaled to peak at 1. A keypoint whose heatmap is spread out has its Gaussian at the heatmap's
    mean, where it may overlap nothing that changes, so no gradient reaches the heatmap: the
    keypoint stays dead (a 4 px object never got one). Through the heatmap itself, every cell
    with some mass is transported, so the heatmap learns where the changes are."""
    if not heatmap_mask_weight:
        return keypoints["gaussian_maps"]
    heatmaps = keypoints["heatmaps"]
    peaks = heatmaps / heatmaps.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-12)
    return (1.0 - heatmap_mask_weight) * keypoints["gaussian_maps"] + heatmap_mask_weight * peaks


def images_to_tensor(images_rgb: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, 3) or (H, W, 3) RGB -> float (B, 3, H, W) in [0, 1].

    The result is a view of the HWC memory, i.e. already in `torch.channels_last` layout.
    """
    images_rgb = np.asarray(images_rgb)
    if images_rgb.dtype != np.uint8 or images_rgb.shape[-1] != 3 or images_rgb.ndim not in (3, 4):
        raise ValueError(f"expected uint8 RGB images (B, H, W, 3), got {images_rgb.dtype} {images_rgb.shape}")
    if images_rgb.ndim == 3:
        images_rgb = images_rgb[None]
    return torch.from_numpy(images_rgb).permute(0, 3, 1, 2).float().div_(255.0)
