"""Frame pairs from episode .npz files and rosbag2 bags, the episode split, and bad inputs."""
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin

from smrl_perception.core.pair_dataset import DatasetError, Episode, FramePairs, load_episodes, split_episodes

SIZE = 32


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_a_bag_and_an_npz_of_the_same_images_give_identical_pairs(tmp_path, make_frames, make_episode_npz,
                                                                   make_image_bag, storage):
    frames = make_frames(15, seed=3)
    npz_path = make_episode_npz(tmp_path / "episode_000000.npz", frames)
    bag_path = make_image_bag(tmp_path / "bag", list(frames), storage=storage)
    from_npz = load_episodes([npz_path], SIZE).episodes
    from_bag = load_episodes([bag_path], SIZE).episodes
    np.testing.assert_array_equal(from_bag[0].frames_rgb, frames)
    npz_pairs, bag_pairs = FramePairs(from_npz, 1, 3), FramePairs(from_bag, 1, 3)
    for a, b in zip(npz_pairs.sample(16, np.random.default_rng(5)), bag_pairs.sample(16, np.random.default_rng(5))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("topic", ["camera/image_raw", "/camera/image_raw"])
def test_the_topic_matches_with_or_without_leading_slash(tmp_path, make_frames, make_image_bag, topic):
    bag = make_image_bag(tmp_path / "bag", list(make_frames(4, seed=0)), topic="/camera/image_raw")
    assert len(load_episodes([bag], SIZE, image_topic=topic).episodes[0].frames_rgb) == 4


def test_bgr8_and_padded_rows_decode_to_the_same_rgb(tmp_path, make_frames, make_image_bag):
    frames = make_frames(3, seed=1)
    bag = make_image_bag(tmp_path / "bag", [f[..., ::-1] for f in frames], encodings=["bgr8"] * 3,
                         row_padding_bytes=8)
    np.testing.assert_array_equal(load_episodes([bag], SIZE).episodes[0].frames_rgb, frames)


def test_unusable_messages_are_skipped_and_counted(tmp_path, make_frames, make_image_bag):
    frames = list(make_frames(5, seed=2))
    frames[1] = frames[1][..., 0]                    # mono8
    frames[3] = make_frames(1, seed=2, image_size=16)[0]  # wrong size
    bag = make_image_bag(tmp_path / "bag", frames, encodings=["rgb8", "mono8", "rgb8", "rgb8", "rgb8"],
                         damaged_messages=(4,))
    loaded = load_episodes([bag], SIZE)
    np.testing.assert_array_equal(loaded.episodes[0].frames_rgb, [frames[0], frames[2]])
    assert loaded.skipped_messages == {
        f"{bag}: encoding 'mono8' (need rgb8 or bgr8)": 1,
        f"{bag}: 16x16 px (need 32x32)": 1,
        f"{bag}: undecodable message": 1,
    }


def test_a_bag_without_one_usable_image_is_an_error(tmp_path, make_frames, make_image_bag):
    bag = make_image_bag(tmp_path / "bag", list(make_frames(2, seed=0, image_size=16)))
    with pytest.raises(DatasetError, match=r"no usable images.*16x16 px \(need 32x32\)': 2"):
        load_episodes([bag], SIZE)


def test_a_bag_without_the_topic_names_the_image_topics_it_has(tmp_path, make_frames, make_image_bag):
    bag = make_image_bag(tmp_path / "bag", list(make_frames(2, seed=0)), topic="/front/image")
    topics_listed = r"no topic 'camera/image_raw' \(image topics in the bag: \['/front/image'\]\)"
    with pytest.raises(DatasetError, match=topics_listed):
        load_episodes([bag], SIZE)


def test_a_dataset_folder_loads_its_episodes_in_order_and_never_reads_ground_truth(episode_dataset, make_frames):
    # conftest writes gt_* as pickled objects: reading them would raise.
    episodes = load_episodes([episode_dataset], SIZE).episodes
    assert [e.name.rsplit("/", 1)[-1] for e in episodes] == [f"episode_00000{i}.npz" for i in range(4)]
    np.testing.assert_array_equal(episodes[2].frames_rgb, make_frames(12, seed=2))


def test_missing_and_unrecognised_paths(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_episodes([tmp_path / "missing"], SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="neither a rosbag2 folder"):
        load_episodes([tmp_path / "empty"], SIZE)


def test_corrupt_and_truncated_npz_files(tmp_path, make_frames, make_episode_npz):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00 not a zip file" * 10)
    truncated = make_episode_npz(tmp_path / "truncated.npz", make_frames(12, seed=0))
    truncated.write_bytes(truncated.read_bytes()[:300])
    for path in (garbage, truncated):
        with pytest.raises(DatasetError, match=f"{path}: not a readable episode .npz"):
            load_episodes([path], SIZE)


def test_npz_without_rgb_or_with_other_images(tmp_path, make_frames):
    np.savez(tmp_path / "no_rgb.npz", time_s=np.zeros(3))
    with pytest.raises(DatasetError, match="no 'rgb' array"):
        load_episodes([tmp_path / "no_rgb.npz"], SIZE)
    np.savez(tmp_path / "big.npz", rgb=make_frames(3, seed=0, image_size=64))
    with pytest.raises(DatasetError, match=r"expected uint8 \(T, 32, 32, 3\)"):
        load_episodes([tmp_path / "big.npz"], SIZE)


def episodes_named(count: int) -> list[Episode]:
    return [Episode(f"episode_{i}", np.zeros((6, 4, 4, 3), np.uint8)) for i in range(count)]


def test_split_holds_out_whole_episodes_chosen_by_seed():
    episodes = episodes_named(20)
    train, held_out = split_episodes(episodes, held_out_fraction=0.2, seed=1)
    assert len(held_out) == 4 and len(train) == 16
    assert {e.name for e in train}.isdisjoint(e.name for e in held_out)
    assert split_episodes(episodes, 0.2, seed=1) == (train, held_out)
    assert split_episodes(episodes, 0.2, seed=2)[1] != held_out
    assert split_episodes(episodes, 0.0, seed=1) == (episodes, [])
    with pytest.raises(DatasetError, match="at least 2"):
        split_episodes(episodes_named(1), 0.1, seed=0)


def test_pairs_are_within_one_episode_and_the_gap_range():
    episodes = [Episode(f"e{i}", np.arange(length)[:, None, None, None].repeat(3, -1).astype(np.uint8) + 100 * i)
                for i, length in enumerate((5, 8))]
    pairs = FramePairs(episodes, min_gap_frames=2, max_gap_frames=3)
    # per episode of T frames: (T - 2) + (T - 3) pairs
    assert len(pairs) == (3 + 2) + (6 + 5)
    source, target = pairs.frames(np.arange(len(pairs)))
    gaps = target[:, 0, 0, 0].astype(int) - source[:, 0, 0, 0].astype(int)
    assert set(gaps) == {2, 3}
    assert np.array_equal(source[:, 0, 0, 0] // 100, target[:, 0, 0, 0] // 100)  # same episode
    np.testing.assert_array_equal(pairs.fixed_subset(6, seed=4), pairs.fixed_subset(6, seed=4))
    assert len(set(pairs.fixed_subset(100, seed=4))) == len(pairs)
    with pytest.raises(DatasetError, match="no frame pairs"):
        FramePairs(episodes, min_gap_frames=8, max_gap_frames=9)


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_a_truncated_bag_is_an_error(tmp_path, make_frames, make_image_bag, storage):
    bag = make_image_bag(tmp_path / "bag", list(make_frames(20, seed=0)), storage=storage)
    (storage_file,) = (path for path in bag.iterdir() if path.name != "metadata.yaml")
    storage_file.write_bytes(storage_file.read_bytes()[: storage_file.stat().st_size // 2])
    with pytest.raises(DatasetError, match=f"{bag}: not a readable rosbag2 bag"):
        load_episodes([bag], SIZE)
