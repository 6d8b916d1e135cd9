from pathlib import Path

import numpy as np
import pytest

from smrl_sim.core.collect import CollectConfig, collect
from smrl_sim.core.episode_dataset import (DatasetError, episode_files, read_episode, read_metadata,
                                           write_episode)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    collect(CollectConfig(out=out, episodes=2, frames=12, push_object=True, workers=1))
    return out


def test_collected_episodes_hold_observations_and_consistent_ground_truth(dataset):
    metadata = read_metadata(dataset)
    assert metadata["episodes"] == 2 and metadata["camera"]["width"] == 64
    files = episode_files(dataset)
    assert len(files) == 2
    episode = read_episode(files[0])
    assert episode["rgb"].shape == (12, 64, 64, 3) and episode["rgb"].dtype == np.uint8
    assert episode["joint_positions"].shape == (12, 7) and episode["joint_targets"].shape == (12, 7)
    assert np.all(np.diff(episode["time_s"]) > 0)
    assert episode["gt_self_mask"].any(axis=(1, 2)).all()
    assert not (episode["gt_self_mask"] & episode["gt_object_mask"]).any()
    # The arm moves during babbling.
    assert np.abs(np.diff(episode["joint_positions"], axis=0)).max() > 0.05


def test_corrupt_missing_and_incomplete_episodes_raise_dataset_errors(dataset, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_episode(tmp_path / "episode_000009.npz")
    truncated = tmp_path / "episode_000000.npz"
    truncated.write_bytes(episode_files(dataset)[0].read_bytes()[:500])
    with pytest.raises(DatasetError, match="corrupt"):
        read_episode(truncated)
    with pytest.raises(DatasetError, match="no arrays"):
        read_episode(episode_files(dataset)[0], keys=("rgb", "nonexistent"))
    with pytest.raises(DatasetError, match="no dataset.json"):
        read_metadata(tmp_path)
    with pytest.raises(DatasetError, match="lacks"):
        write_episode(tmp_path / "x.npz", {"rgb": np.zeros((2, 4, 4, 3), np.uint8)})
    assert not list(tmp_path.glob("*.part"))
