"""The bag-writing core: readable after every flush as if the process died, standard after close."""
import threading
import time

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from smrl_bag.core.bag_playback import BagPlayback, play_at_recorded_pace
from smrl_bag.core.bag_recording import BagError, BagRecording
from smrl_common.core.bag_types import smrl_typestore


def string_cdr(typestore, text: str) -> bytes:
    return bytes(typestore.serialize_cdr(typestore.types["std_msgs/msg/String"](data=text), "std_msgs/msg/String"))


def read_strings(path) -> list[str]:
    typestore = smrl_typestore()
    with Reader(path) as reader:
        return [typestore.deserialize_cdr(data, c.msgtype).data for c, _, data in reader.messages()]


def test_after_each_flush_the_file_reads_as_if_the_recorder_had_died_there(tmp_path, mcap_messages):
    typestore = smrl_typestore()
    bag = BagRecording(tmp_path / "bag", typestore)
    bag.add_topic("/chatter", "std_msgs/msg/String")
    for i in range(5):
        bag.write("/chatter", 1000 + i, string_cdr(typestore, f"first {i}"))
    bag.flush()
    assert read_strings(bag.mcap_path) == [f"first {i}" for i in range(5)]
    bag.write("/chatter", 2000, string_cdr(typestore, "not flushed"))
    assert read_strings(bag.mcap_path) == [f"first {i}" for i in range(5)]  # the unflushed one is not there yet
    bag.flush()
    bag.flush()  # a flush with nothing new changes nothing
    assert read_strings(bag.mcap_path)[-1] == "not flushed"
    assert [message.data for _, _, message in mcap_messages(bag.mcap_path)][-1] == "not flushed"
    assert not (tmp_path / "bag" / "metadata.yaml").exists()
    bag.close()
    assert read_strings(tmp_path / "bag") == [f"first {i}" for i in range(5)] + ["not flushed"]


def test_a_closed_bag_embeds_the_smrl_msgs_definitions_for_independent_readers(tmp_path, mcap_messages):
    typestore = smrl_typestore()
    types = typestore.types
    keypoints = types["smrl_msgs/msg/KeypointArray"](
        header=types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=3, nanosec=5), frame_id="cam"),
        image_width=64, image_height=64,
        keypoints=[types["smrl_msgs/msg/Keypoint"](u_px=1.5, v_px=2.5, x_norm=-0.9, y_norm=-0.8, intensity=0.7)])
    bag = BagRecording(tmp_path / "bag", typestore)
    bag.add_topic("/keypoints", "smrl_msgs/msg/KeypointArray")
    bag.write("/keypoints", 10, bytes(typestore.serialize_cdr(keypoints, "smrl_msgs/msg/KeypointArray")))
    bag.flush()
    bag.close()
    ((topic, msgtype, decoded),) = mcap_messages(bag.mcap_path)
    assert (topic, msgtype) == ("/keypoints", "smrl_msgs/msg/KeypointArray")
    assert decoded.keypoints[0].u_px == 1.5 and decoded.image_width == 64


def test_a_bag_is_never_overwritten_and_unknown_types_are_refused(tmp_path):
    (tmp_path / "bag").mkdir()
    with pytest.raises(BagError, match="exists already"):
        BagRecording(tmp_path / "bag", smrl_typestore())
    bag = BagRecording(tmp_path / "other", smrl_typestore())
    with pytest.raises(BagError, match="unknown to the bag's typestore"):
        bag.add_topic("/x", "no_pkg/msg/Nothing")
    bag.close()


def test_playback_keeps_the_recorded_pace(tmp_path, make_camera_bag):
    playback = BagPlayback(make_camera_bag(tmp_path / "bag", num_frames=15, rate_hz=30.0), ["camera/image_raw"])
    assert playback.message_count == 15 and playback.msgtypes == {"camera/image_raw": "sensor_msgs/msg/Image"}
    published_at_s = []
    started_s = time.monotonic()
    passes = play_at_recorded_pace(playback, lambda m: published_at_s.append(time.monotonic() - started_s),
                                   threading.Event())
    assert passes == 1 and len(published_at_s) == 15
    recorded_s = np.arange(15) / 30.0
    assert np.abs(np.array(published_at_s) - recorded_s).max() < 0.05, published_at_s


@pytest.mark.parametrize("bad", ["missing", "folder without metadata.yaml", "garbage .mcap"])
def test_a_missing_or_corrupt_bag_is_one_clear_error(tmp_path, bad):
    path = tmp_path / "bag"
    if bad == "folder without metadata.yaml":
        path.mkdir()
    elif bad == "garbage .mcap":
        path = tmp_path / "bag.mcap"
        path.write_bytes(b"\x89MCAP0\r\n and then garbage")
    with pytest.raises(BagError, match="no such bag" if bad == "missing" else "not a readable rosbag2 bag"):
        BagPlayback(path, ["camera/image_raw"])


def test_a_bag_without_the_topics_names_the_topics_it_has(tmp_path, make_camera_bag):
    with pytest.raises(BagError, match=r"no messages on \['camera/left'\].*camera/image_raw"):
        BagPlayback(make_camera_bag(tmp_path / "bag", num_frames=2), ["camera/left"])
