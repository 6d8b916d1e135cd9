"""The demo's pictures of a recorded run: camera strip, self model strip and a GIF of the run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgb
from PIL import Image

from smrl_bringup.recorded_run import RecordedRun
from smrl_common.core.pixel_coordinates import normalised_to_pixels
from smrl_perception.core.drawing import draw_keypoints
from smrl_self_model.core.evaluation import LABEL_STYLES, draw_labelled_frames

LABEL_RGB = {label: tuple(int(255 * c) for c in to_rgb(style["color"])) for label, style in LABEL_STYLES.items()}


def evenly(items: list, count: int) -> list:
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).astype(int)] if items else []


def save_camera_strip(frames: list[np.ndarray], path: Path, count: int = 8, scale: int = 4) -> Path:
    image = Image.fromarray(np.concatenate(evenly(frames, count), axis=1))
    image.resize((image.width * scale, image.height * scale), Image.NEAREST).save(path)
    return path


def save_self_model_strip(run: RecordedRun, path: Path, count: int = 8) -> Path | None:
    """Frames spread over the run, keypoints coloured by their labels in that frame: how the agent
    finds itself."""
    chosen = evenly(run.states_with_frames(), count)
    if not chosen:
        return None
    times = ", ".join(f"{(s.stamp_ns - chosen[0].stamp_ns) * 1e-9:.0f}" for s in chosen)
    return draw_labelled_frames(
        path, np.stack([run.frames[s.stamp_ns] for s in chosen]), np.stack([s.centers for s in chosen]),
        np.stack([s.frame_labels for s in chosen]), title=f"live self model labels per frame at {times} s of the demo")


def save_run_gif(run: RecordedRun, path: Path, count: int = 120, frame_ms: int = 100, scale: int = 4) -> Path | None:
    """The whole run sped up into `count` frames, keypoints in their label's colour (the strip's)."""
    chosen = evenly(run.states_with_frames(), count)
    if not chosen:
        return None
    images = []
    for state in chosen:
        frame = run.frames[state.stamp_ns]
        pixels = normalised_to_pixels(state.centers, frame.shape[1], frame.shape[0])
        colours = [LABEL_RGB[int(label)] for label in state.frame_labels]
        images.append(Image.fromarray(draw_keypoints(frame, pixels, scale=scale, colours=colours)))
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
    return path
