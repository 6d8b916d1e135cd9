"""The keypoint path as the robot runs it: uint8 camera frames in, keypoints in pixels and
normalised coordinates out. The keypoint node and the probe both go through here, so what the
probe measures is what the node publishes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from smrl_common.core.pixel_coordinates import normalised_to_pixels
from smrl_perception.core.checkpoint import load_shipped_transporter, load_transporter
from smrl_perception.core.transporter import Transporter, images_to_tensor


@dataclass(frozen=True)
class DetectedKeypoints:
    """Keypoints of one frame (K, ...) or of a batch (B, K, ...)."""

    normalised: np.ndarray   # (..., K, 2) x right, y down, in [-1, 1]
    pixels: np.ndarray       # (..., K, 2) u column, v row, px; pixel (0, 0)'s centre at (0, 0)
    intensities: np.ndarray  # (..., K) in [0, 1]


class KeypointDetector:
    """A trained Transporter's keypoint encoder, in eval mode and channels_last memory (faster on CPU)."""

    def __init__(self, model: Transporter) -> None:
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.image_size = model.config.image_size
        self.num_keypoints = model.config.num_keypoints

    @classmethod
    def from_checkpoint(cls, path: Path | str | None = None, robot: str = "panda") -> KeypointDetector:
        """From a checkpoint file, or the model shipped for `robot` when `path` is None or empty.

        Raises `CheckpointError` (naming file and reason) for missing or broken files.
        """
        return cls(load_transporter(path) if path else load_shipped_transporter(robot))

    def detect(self, frames_rgb: np.ndarray) -> DetectedKeypoints:
        """(H, W, 3) or (B, H, W, 3) uint8 RGB frames of the model's size -> their keypoints."""
        frames_rgb = np.asarray(frames_rgb)
        with torch.inference_mode():
            keypoints = self.model.keypoints(images_to_tensor(frames_rgb))
        normalised = keypoints["centers"].double().numpy()
        intensities = keypoints["intensities"].double().numpy()
        if frames_rgb.ndim == 3:
            normalised, intensities = normalised[0], intensities[0]
        return DetectedKeypoints(
            normalised=normalised,
            pixels=normalised_to_pixels(normalised, self.image_size, self.image_size),
            intensities=intensities,
        )
