"""The Transporter's training loss: reconstruction + keypoint consistency.

    loss = reconstruction_weight * weighted_mse(reconstructed_target, target, w)
         + consistency_weight * mse(centres found on reconstructed_target, centres of target)
    w    = 1 + motion_weight * |target - source| (per pixel, mean over channels, in [0, 1])

`motion_weight` makes pixels that changed between the two frames count more. A small object that
moves (the 4 x 4 px cube at 64 px) changes few pixels: under a plain MSE a keypoint spent on it
buys less than one more on the large arm, and it stays without one. With the weight, the pixels
where it left and where it arrived count as much as the arm's moving edges. 0 gives the plain MSE.

The consistency term is the original SMRL project's: keypoints must be found again on the
reconstruction. The target's centres are the reference and get no gradient from this term, so it
cannot pull the real keypoints towards a blurry reconstruction, only make the keypoint encoder and
the reconstruction agree with them.

Why the defaults are 1.0 and 0.1, not the original 0.95 consistency + 0.05 reconstruction: the
reconstruction error is the only signal that makes keypoints mean anything, while consistency
alone has a trivial minimum (keypoints that ignore the image are always consistent). With images
in [0, 1] both MSEs are of the same order (~1e-3 once keypoints work), so the original weights
make consistency 19x stronger than reconstruction. Measured on a moving square, 200 steps: with
1.0 / 0.1 the reconstruction MSE reached 0.0005 with all 8 keypoints on the square; with the
original weights it was 0.006 and 4 of the 8 keypoints had faded to near-uniform heatmaps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from smrl_perception.core.transporter import Transporter


#: The scalars `transporter_loss` returns.
LOSS_TERMS = ("total", "reconstruction", "consistency")


@dataclass(frozen=True)
class LossWeights:
    reconstruction: float = 1.0
    consistency: float = 0.1
    motion: float = 0.0
    residual_attention: float = 0.0
    colour_consistency: float = 0.0


def transporter_loss(
    model: Transporter,
    source: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Run the model on (B, 3, H, W) pairs; returns scalar `total`, `reconstruction`, `consistency`."""
    outputs = model(source, target)
    reconstructed = outputs["reconstructed_target"]
    if weights.motion:
        pixel_weights = 1.0 + weights.motion * (target - source).abs().mean(dim=1, keepdim=True)
        reconstruction = (pixel_weights * (reconstructed - target) ** 2).mean() / pixel_weights.mean()
    else:
        reconstruction = F.mse_loss(reconstructed, target)
    centers_on_reconstruction = model.keypoints(reconstructed)["centers"]
    consistency = F.mse_loss(centers_on_reconstruction, outputs["keypoints_target"]["centers"].detach())
    total = weights.reconstruction * reconstruction + weights.consistency * consistency
    if weights.residual_attention:
        total = total + weights.residual_attention * residual_attention(
            reconstructed.detach(), target, outputs["keypoints_target"]["heatmaps"])
    if weights.colour_consistency:
        total = total + weights.colour_consistency * colour_consistency(
            torch.cat([source, target]),
            torch.cat([outputs["keypoints_source"]["heatmaps"], outputs["keypoints_target"]["heatmaps"]]))
    return {"total": total, "reconstruction": reconstruction, "consistency": consistency}


def residual_attention(reconstructed: torch.Tensor, target: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of one heatmap per pair (B, K, h, w) against the cell where the reconstruction
    is most wrong (squared error pooled to the heatmaps' cells); the heatmap that already has the
    most mass there claims it, so the others stay where they pay off.

    The reconstruction's gradient reaches a keypoint only through its Gaussian map, a few pixels
    wide: a thing that changes far from every keypoint never pulls one over. This term does, from
    anywhere: it draws a heatmap to what the model cannot explain yet, and where that can be seen
    in the frame (a small object that moved there) the detector learns to find it. A spread-out
    target (the whole error map) only flattened the heatmaps: the blur everywhere outweighs any
    object; with the pixels transported (`pixel_transport`) the most wrong cell is on the object
    in 61 % of the pairs in which it moved (a K = 1 model after 100 steps)."""
    error = ((reconstructed - target) ** 2).mean(dim=1, keepdim=True)
    error = F.adaptive_avg_pool2d(error, heatmaps.shape[-2:]).flatten(1)
    most_wrong = error.argmax(dim=1)  # (B,)
    log_heatmaps = torch.log(heatmaps.flatten(2).clamp(min=1e-12))  # (B, K, h w)
    at_most_wrong = log_heatmaps.gather(2, most_wrong[:, None, None].expand(-1, heatmaps.shape[1], 1))[..., 0]
    claimed = at_most_wrong.detach().argmax(dim=1, keepdim=True)  # (B, 1)
    return -at_most_wrong.gather(1, claimed).mean()


def colour_consistency(images: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """Mean over keypoints of the expected squared distance, under each heatmap (B, K, h, w), of
    the image colour (B, 3, H, W) pooled to the heatmaps' cells from that keypoint's mean colour
    over the batch (no gradient through the mean).

    Reconstruction alone decides, scene by scene, what a keypoint follows: beside a second moving
    arm that arm explains more of the frame than a cube that moves now and then, and it draws the
    cube's keypoint over, in that scene only (2 of 3 seeds in every variant of round 4). The
    batch mixes all scenes, so this term makes a keypoint keep to things of one colour across
    them: to the green cube, not to an orange arm. The cost is expected under the heatmap, so a
    spread-out heatmap (a mixture of colours) costs more, not less. It acts through the encoder's
    shared filters; a heatmap saturated on one wrong cell gets almost no gradient from it. Its
    cheap minimum is a keypoint parked on a still patch of one colour: at weight 0.02 one of
    eight parks, at 0.1 up to five (perception models README, "Trial: colour consistency")."""
    colours = F.adaptive_avg_pool2d(images, heatmaps.shape[-2:])  # (B, 3, h, w)
    mean_colours = torch.einsum("bkhw,bchw->kc", heatmaps, colours).detach() / len(images)  # (K, 3)
    distances = ((colours[:, None] - mean_colours[None, :, :, None, None]) ** 2).sum(dim=2)  # (B, K, h, w)
    return (heatmaps * distances).sum(dim=(-2, -1)).mean()
