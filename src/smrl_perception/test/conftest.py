"""Synthetic data for the tests: a coloured square moving over a plain background."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

IMAGE_SIZE_PX = 32
SQUARE_PX = 6


@pytest.fixture(autouse=True)
def one_thread():
    """Other work shares the machine's two cores: keep every test on one."""
    torch.set_num_threads(1)


def moving_square_frames(num_frames: int, seed: int, image_size: int = IMAGE_SIZE_PX) -> np.ndarray:
    """(T, H, W, 3) uint8: a red square bouncing off the borders of a dark blue image."""
    rng = np.random.default_rng(seed)
    frames = np.empty((num_frames, image_size, image_size, 3), dtype=np.uint8)
    frames[:] = (30, 50, 90)
    span = image_size - SQUARE_PX
    start = rng.integers(0, span, size=2)
    velocity = rng.choice([-3, -2, 2, 3], size=2)
    for t in range(num_frames):
        x, y = np.abs((start + velocity * t + span) % (2 * span) - span)  # triangle wave in [0, span]
        frames[t, y : y + SQUARE_PX, x : x + SQUARE_PX] = (230, 60, 40)
    return frames


def write_episode_npz(path: Path, frames_rgb: np.ndarray) -> Path:
    """An episode file as docs/architecture.md describes; the ground truth here is an object array
    that cannot be loaded without pickle, so any reader touching `gt_*` fails loudly."""
    num_frames = len(frames_rgb)
    np.savez_compressed(
        path,
        rgb=frames_rgb,
        joint_positions=np.zeros((num_frames, 7), np.float32),
        joint_targets=np.zeros((num_frames, 7), np.float32),
        time_s=np.arange(num_frames, dtype=np.float64) / 10.0,
        gt_self_mask=np.array([{"ground truth": "must never be read by a learner"}], dtype=object),
    )
    return path


def write_image_bag(
    path: Path,
    frames_rgb: list[np.ndarray],
    topic: str = "/camera/image_raw",
    encodings: list[str] | None = None,
    storage: StoragePlugin = StoragePlugin.MCAP,
    row_padding_bytes: int = 0,
    damaged_messages: tuple[int, ...] = (),
) -> Path:
    """A rosbag2 bag of sensor_msgs/msg/Image on `topic`; each frame is (H, W, C) uint8 already
    in its encoding's channel order (rgb8 by default). Messages at `damaged_messages` are cut short."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    Image = typestore.types["sensor_msgs/msg/Image"]
    Header = typestore.types["std_msgs/msg/Header"]
    Time = typestore.types["builtin_interfaces/msg/Time"]
    encodings = encodings or ["rgb8"] * len(frames_rgb)
    with Writer(path, version=9, storage_plugin=storage) as writer:
        connection = writer.add_connection(topic, Image.__msgtype__, typestore=typestore)
        for index, (frame, encoding) in enumerate(zip(frames_rgb, encodings)):
            height, width = frame.shape[:2]
            rows = frame.reshape(height, -1)
            padded = np.pad(rows, ((0, 0), (0, row_padding_bytes)))
            stamp_ns = 1_000_000_000 + index * 100_000_000
            stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
            message = Image(
                header=Header(stamp=stamp, frame_id="camera_optical_frame"),
                height=height,
                width=width,
                encoding=encoding,
                is_bigendian=0,
                step=padded.shape[1],
                data=padded.reshape(-1),
            )
            serialised = bytes(typestore.serialize_cdr(message, Image.__msgtype__))
            if index in damaged_messages:
                serialised = serialised[: len(serialised) // 2]
            writer.write(connection, stamp_ns, serialised)
    return path


@pytest.fixture
def episode_dataset(tmp_path: Path) -> Path:
    """A dataset folder with four 12-frame episodes."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "dataset.json").write_text('{"robot": "synthetic"}')
    for episode in range(4):
        write_episode_npz(folder / f"episode_{episode:06d}.npz", moving_square_frames(12, seed=episode))
    return folder


@pytest.fixture
def make_frames():
    return moving_square_frames


@pytest.fixture
def make_episode_npz():
    return write_episode_npz


@pytest.fixture
def make_image_bag():
    return write_image_bag
