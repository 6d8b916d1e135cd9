"""Keypoints drawn on camera frames: the node's overlay image and the probe's strip of frames.

Keypoint i has the same colour everywhere (overlay, strip, rviz markers), so a reader can follow
one learned detector across tools.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw


def keypoint_colours(num_keypoints: int) -> list[tuple[int, int, int]]:
    """Distinct RGB colours, one per keypoint index (tab10, or tab20 beyond 10 keypoints)."""
    colormap = colormaps["tab10" if num_keypoints <= 10 else "tab20"]
    return [tuple(int(255 * c) for c in colormap(i % colormap.N)[:3]) for i in range(num_keypoints)]


def draw_keypoints(frame_rgb: np.ndarray, keypoints_px: np.ndarray, scale: int = 4,
                   colours: list[tuple[int, int, int]] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 frame upscaled `scale`x (nearest neighbour, so pixels stay visible) with each
    keypoint (K, 2) pixel (u, v) drawn as a numbered ring in its own colour -> (H*scale, W*scale, 3).
    `colours`: one RGB per keypoint instead, e.g. by what the self model calls it."""
    if scale < 1:
        raise ValueError(f"scale {scale} must be >= 1")
    image = Image.fromarray(np.asarray(frame_rgb, dtype=np.uint8).repeat(scale, axis=0).repeat(scale, axis=1))
    draw = ImageDraw.Draw(image)
    radius = max(1.5 * scale, 3.0)
    for index, ((u, v), colour) in enumerate(zip(keypoints_px, colours or keypoint_colours(len(keypoints_px)))):
        # pixel (u, v)'s centre is at ((u + 0.5) * scale) in the upscaled image
        x, y = (u + 0.5) * scale, (v + 0.5) * scale
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=colour, width=2)
        draw.text((x + radius, y - 2 * radius), str(index), fill=colour)
    return np.asarray(image)
