"""How good are the keypoints? Measured against the simulator's ground truth (evaluation only).

Two measures on held-out frames, with keypoints and ground truth both in pixels (u right, v down,
pixel (0, 0)'s centre at (0, 0): convert model centres with
`smrl_sim.core.camera.normalised_to_pixels`):

- a linear probe: can a linear map from the K keypoints recover the end effector, the object and
  each arm link? Fit by least squares on the first `fit_fraction` of the frames and scored on the
  rest (a split in time, so neighbouring frames do not leak between the two);
- keypoint placement: how often each keypoint sits on the arm, on the object or on background.

Plus a drawing of keypoints on a strip of frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class ProbeScore:
    r2: float              # 1 - residual / total sum of squares over u and v; nan if the target never moves
    mean_error_px: float   # mean Euclidean distance between predicted and true point


def ground_truth_points(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Named (T, 2) pixel targets from an episode's `gt_ee_pixel`, `gt_object_pixel`, `gt_link_pixels`."""
    points = {"end_effector": episode["gt_ee_pixel"], "object": episode["gt_object_pixel"]}
    link_pixels = episode["gt_link_pixels"]  # (T, L, 2)
    points.update({f"link_{link}": link_pixels[:, link] for link in range(link_pixels.shape[1])})
    return points


def linear_probe(
    keypoints_px: np.ndarray, targets_px: dict[str, np.ndarray], fit_fraction: float = 0.7
) -> dict[str, ProbeScore]:
    """Score a least-squares map (K keypoints (T, K, 2) -> each (T, 2) target) on held-out frames.

    R^2 is about 1 when the target is a linear function of the keypoints and about 0 (or below)
    when they say nothing about it. Frames where a target is not finite are left out for it.
    """
    num_frames = len(keypoints_px)
    num_fit = int(round(num_frames * fit_fraction))
    if not 0 < num_fit < num_frames:
        raise ValueError(f"{num_frames} frames cannot be split {fit_fraction:.0%} fit / rest scored")
    features = np.hstack([keypoints_px.reshape(num_frames, -1), np.ones((num_frames, 1))])
    scores = {}
    for name, target in targets_px.items():
        usable = np.isfinite(target).all(axis=1) & np.isfinite(features).all(axis=1)
        fit = usable & (np.arange(num_frames) < num_fit)
        scored = usable & (np.arange(num_frames) >= num_fit)
        weights, *_ = np.linalg.lstsq(features[fit], target[fit], rcond=None)
        predicted = features[scored] @ weights
        residual = ((target[scored] - predicted) ** 2).sum()
        total = ((target[scored] - target[scored].mean(axis=0)) ** 2).sum()
        scores[name] = ProbeScore(
            r2=float(1.0 - residual / total) if total > 0 else float("nan"),
            mean_error_px=float(np.linalg.norm(target[scored] - predicted, axis=1).mean()),
        )
    return scores


@dataclass(frozen=True)
class KeypointPlacement:
    on_arm: np.ndarray          # (K,) fraction of frames on a `gt_self_mask` pixel
    on_object: np.ndarray       # (K,) fraction on a `gt_object_mask` pixel
    on_background: np.ndarray   # (K,) the rest

    def mostly(self) -> np.ndarray:
        """(K,) 'arm', 'object' or 'background': where each keypoint sits most often."""
        labels = np.array(["arm", "object", "background"])
        return labels[np.argmax(np.stack([self.on_arm, self.on_object, self.on_background]), axis=0)]

    def counts(self) -> dict[str, int]:
        """How many keypoints are mostly on the arm, the object, the background."""
        mostly = self.mostly()
        return {label: int((mostly == label).sum()) for label in ("arm", "object", "background")}


def keypoint_placement(
    keypoints_px: np.ndarray, self_mask: np.ndarray, object_mask: np.ndarray
) -> KeypointPlacement:
    """Where keypoints (T, K, 2) land in the (T, H, W) masks, at their nearest pixel (clipped to the
    image). A pixel in both masks counts as arm."""
    num_frames, height, width = self_mask.shape
    columns = np.clip(np.rint(keypoints_px[..., 0]).astype(int), 0, width - 1)  # (T, K)
    rows = np.clip(np.rint(keypoints_px[..., 1]).astype(int), 0, height - 1)
    frames = np.arange(num_frames)[:, None]
    on_arm = self_mask[frames, rows, columns]
    on_object = object_mask[frames, rows, columns] & ~on_arm
    return KeypointPlacement(
        on_arm=on_arm.mean(axis=0),
        on_object=on_object.mean(axis=0),
        on_background=(~on_arm & ~on_object).mean(axis=0),
    )


def keypoint_colours(num_keypoints: int) -> list[tuple[int, int, int]]:
    """Distinct RGB colours, one per keypoint index (tab10, or tab20 beyond 10 keypoints)."""
    colormap = colormaps["tab10" if num_keypoints <= 10 else "tab20"]
    return [tuple(int(255 * c) for c in colormap(i % colormap.N)[:3]) for i in range(num_keypoints)]


def draw_keypoint_strip(frames_rgb: np.ndarray, keypoints_px: np.ndarray, path: Path, scale: int = 4) -> Path:
    """Frames (N, H, W, 3) uint8 side by side, upscaled `scale`x (nearest neighbour), with each
    keypoint (N, K, 2) drawn as a numbered ring in its own colour; written as PNG."""
    num_frames, height, width, _ = frames_rgb.shape
    strip = np.concatenate(list(frames_rgb), axis=1).repeat(scale, axis=0).repeat(scale, axis=1)
    image = Image.fromarray(strip)
    draw = ImageDraw.Draw(image)
    radius = 1.5 * scale
    colours = keypoint_colours(keypoints_px.shape[1])
    for frame, keypoints in enumerate(keypoints_px):
        for index, (u, v) in enumerate(keypoints):
            # pixel (u, v)'s centre is at ((u + 0.5) * scale) in the upscaled image
            x, y = (frame * width + u + 0.5) * scale, (v + 0.5) * scale
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=colours[index], width=2)
            draw.text((x + radius, y - 2 * radius), str(index), fill=colours[index])
    path = Path(path)
    image.save(path)
    return path
