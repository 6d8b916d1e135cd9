"""Training pairs for the Transporter: two frames of one episode a few frames apart.

Episodes come from either source the robot produces:
- an episode dataset folder of `episode_*.npz` files (docs/architecture.md), or a single
  episode `.npz`: only the `rgb` array is read; the `gt_*` arrays never are;
- a rosbag2 folder (`metadata.yaml`; MCAP or sqlite3): the `sensor_msgs/Image` messages of one
  topic, in recording order, are one episode; or a bag's `.mcap` file alone (a recording that was
  killed before it wrote metadata.yaml: smrl_bag's recorder keeps it readable).

All frames are held in memory as uint8 (64x64 px: 12 kB a frame). Whole files that are unusable
raise `DatasetError`; single unusable bag messages are skipped and counted in `skipped_messages`.
"""
from __future__ import annotations

import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore

DEFAULT_IMAGE_TOPIC = "camera/image_raw"
IMAGE_MESSAGE_TYPE = "sensor_msgs/msg/Image"
#: Kilted's definitions decode bags from any ROS 2 distribution: sensor_msgs/Image never changed.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)


class DatasetError(Exception):
    """An input path is missing, unreadable, or holds no usable images."""


class UnusableImage(ValueError):
    """One image message that cannot be used; its message is the reason it is skipped."""


@dataclass
class Episode:
    name: str               # the file or bag it came from
    frames_rgb: np.ndarray  # (T, H, W, 3) uint8, in time order


@dataclass
class LoadedEpisodes:
    episodes: list[Episode]
    skipped_messages: Counter  # "bag: reason" -> number of bag messages skipped


def load_episodes(
    paths: list[Path | str], image_size: int, image_topic: str = DEFAULT_IMAGE_TOPIC
) -> LoadedEpisodes:
    """Every episode under `paths` (dataset folders, .npz files, rosbag2 folders, .mcap files), in order."""
    if not paths:
        raise DatasetError("no data paths given")
    episodes: list[Episode] = []
    skipped: Counter = Counter()
    for path in map(Path, paths):
        if not path.exists():
            raise DatasetError(f"{path}: no such file or folder")
        if (path / "metadata.yaml").is_file() or (path.is_file() and path.suffix == ".mcap"):
            episode, skipped_here = load_bag_episode(path, image_size, image_topic)
            episodes.append(episode)
            skipped.update({f"{path}: {reason}": count for reason, count in skipped_here.items()})
        elif path.is_file() and path.suffix == ".npz":
            episodes.append(load_npz_episode(path, image_size))
        elif path.is_dir() and (episode_files := sorted(path.glob("*.npz"))):
            episodes.extend(load_npz_episode(file, image_size) for file in episode_files)
        else:
            raise DatasetError(
                f"{path}: neither a rosbag2 folder (metadata.yaml) or .mcap file, a dataset folder of "
                "episode .npz files, nor an episode .npz file"
            )
    return LoadedEpisodes(episodes, skipped)


def load_npz_episode(path: Path, image_size: int) -> Episode:
    """The `rgb` array of one episode file (the ground truth in it is left unread)."""
    try:
        with np.load(path) as archive:
            if "rgb" not in archive.files:
                raise DatasetError(f"{path}: no 'rgb' array (has {sorted(archive.files)})")
            frames_rgb = archive["rgb"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable episode .npz ({error})") from None
    if frames_rgb.dtype != np.uint8 or frames_rgb.ndim != 4 or frames_rgb.shape[1:] != (image_size, image_size, 3):
        raise DatasetError(
            f"{path}: 'rgb' is {frames_rgb.dtype} {frames_rgb.shape}, expected uint8 (T, {image_size}, {image_size}, 3)"
        )
    return Episode(str(path), frames_rgb)


def load_bag_episode(path: Path, image_size: int, image_topic: str) -> tuple[Episode, Counter]:
    """The images on `image_topic` (with or without a leading slash) of one rosbag2 bag, and the
    number of messages skipped for each reason."""
    wanted_topic = image_topic.lstrip("/")
    frames: list[np.ndarray] = []
    skipped: Counter = Counter()
    try:
        with Reader(path) as reader:
            connections = [c for c in reader.connections if c.topic.lstrip("/") == wanted_topic]
            if not connections:
                image_topics = sorted({c.topic for c in reader.connections if c.msgtype == IMAGE_MESSAGE_TYPE})
                raise DatasetError(f"{path}: no topic {image_topic!r} (image topics in the bag: {image_topics})")
            if any(c.msgtype != IMAGE_MESSAGE_TYPE for c in connections):
                raise DatasetError(
                    f"{path}: topic {image_topic!r} is {connections[0].msgtype}, not {IMAGE_MESSAGE_TYPE}"
                )
            for connection, _, raw in reader.messages(connections=connections):
                try:
                    frames.append(image_message_to_rgb(TYPESTORE.deserialize_cdr(raw, connection.msgtype), image_size))
                except SerdeError:
                    skipped["undecodable message"] += 1
                except UnusableImage as reason:
                    skipped[str(reason)] += 1
    except ReaderError as error:
        raise DatasetError(f"{path}: not a readable rosbag2 bag ({error})") from None
    if not frames:
        raise DatasetError(f"{path}: no usable images on {image_topic!r} (skipped: {dict(skipped)})")
    return Episode(str(path), np.stack(frames)), skipped


def image_message_to_rgb(message, image_size: int) -> np.ndarray:
    """sensor_msgs/Image rgb8 or bgr8 -> (H, W, 3) uint8 RGB view.

    A numpy path rather than `rosbags.image.message_to_cvimage`, which ignores row padding (`step`).
    """
    if message.encoding not in ("rgb8", "bgr8"):
        raise UnusableImage(f"encoding {message.encoding!r} (need rgb8 or bgr8)")
    if (message.height, message.width) != (image_size, image_size):
        raise UnusableImage(f"{message.width}x{message.height} px (need {image_size}x{image_size})")
    row_bytes = message.width * 3
    if message.step < row_bytes or message.data.size < message.step * message.height:
        raise UnusableImage("data shorter than height x step")
    rows = message.data[: message.step * message.height].reshape(message.height, message.step)
    rgb = rows[:, :row_bytes].reshape(message.height, message.width, 3)
    return rgb[..., ::-1] if message.encoding == "bgr8" else rgb


def split_episodes(
    episodes: list[Episode], held_out_fraction: float, seed: int
) -> tuple[list[Episode], list[Episode]]:
    """(train, held out): whole episodes, chosen by `seed`, so no held-out frame is ever trained on."""
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction {held_out_fraction} must be in [0, 1)")
    if held_out_fraction == 0.0:
        return list(episodes), []
    if len(episodes) < 2:
        raise DatasetError(
            f"{len(episodes)} episode(s): holding episodes out needs at least 2 (or held_out_fraction 0)"
        )
    num_held_out = min(max(1, round(len(episodes) * held_out_fraction)), len(episodes) - 1)
    held_out = set(np.random.default_rng(seed).permutation(len(episodes))[:num_held_out].tolist())
    train = [episode for i, episode in enumerate(episodes) if i not in held_out]
    return train, [episode for i, episode in enumerate(episodes) if i in held_out]


class FramePairs:
    """Every (source, target) frame pair of the episodes with min_gap <= target - source <= max_gap.

    Target is always the later frame; gaps are in frames.
    """

    def __init__(self, episodes: list[Episode], min_gap_frames: int = 1, max_gap_frames: int = 4) -> None:
        if not 1 <= min_gap_frames <= max_gap_frames:
            raise ValueError(f"need 1 <= min_gap_frames ({min_gap_frames}) <= max_gap_frames ({max_gap_frames})")
        self.episodes = episodes
        pairs = [
            (episode_index, source, source + gap)
            for episode_index, episode in enumerate(episodes)
            for gap in range(min_gap_frames, max_gap_frames + 1)
            for source in range(len(episode.frames_rgb) - gap)
        ]
        if not pairs:
            raise DatasetError(
                f"no frame pairs {min_gap_frames}..{max_gap_frames} frames apart in {len(episodes)} episode(s)"
            )
        self.pairs = np.array(pairs, dtype=np.int64)  # (N, 3): episode, source frame, target frame

    def __len__(self) -> int:
        return len(self.pairs)

    def frames(self, pair_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Source and target frames (B, H, W, 3) uint8 of the pairs at `pair_indices`."""
        chosen = self.pairs[pair_indices]
        source = np.stack([self.episodes[e].frames_rgb[s] for e, s, _ in chosen])
        target = np.stack([self.episodes[e].frames_rgb[t] for e, _, t in chosen])
        return source, target

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random batch (with replacement) of source and target frames."""
        return self.frames(rng.integers(len(self.pairs), size=batch_size))

    def fixed_subset(self, count: int, seed: int) -> np.ndarray:
        """Indices of up to `count` distinct pairs, the same for the same seed (for evaluation)."""
        rng = np.random.default_rng(seed)
        return np.sort(rng.permutation(len(self.pairs))[:count])
