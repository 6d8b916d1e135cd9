"""The recorder as its own process over DDS: what it wrote survives SIGKILL; SIGINT ends it cleanly."""
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.qos import qos_profile_sensor_data
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from smrl_bag.recorder_node import PARAMETERS, main
from smrl_common.core.bag_types import smrl_typestore
from smrl_common.image_messages import rgb_to_image_msg
from smrl_msgs.msg import Keypoint, KeypointArray
from smrl_perception.core.pair_dataset import load_episodes

TOPICS = ["camera/image_raw", "joint_states", "keypoints"]


@pytest.fixture
def recorder(tmp_path):
    """start() runs recorder_node in a process of its own, recording TOPICS into tmp_path/bag."""
    processes = []

    def start():
        bag = tmp_path / "bag"
        process = subprocess.Popen(
            [sys.executable, "-m", "smrl_bag.recorder_node", "--ros-args", "-p", f"output:={bag}",
             "-p", "flush_period_s:=0.3", "-p", "discovery_period_s:=0.2", "-p", f"topics:=[{','.join(TOPICS)}]"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        return process, bag

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def publish_for(ros_context, executor, spin_until, count: int) -> list[int]:
    """Once the recorder has subscribed, publish `count` images, joint states and keypoints at 50 Hz;
    returns the images' first pixel values (each image is one flat colour)."""
    import rclpy

    node = rclpy.create_node("publisher", context=ros_context)
    executor.add_node(node)
    images = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    joints = node.create_publisher(JointState, "joint_states", 10)
    keypoints = node.create_publisher(KeypointArray, "keypoints", qos_profile_sensor_data)
    assert spin_until(executor, lambda: all(p.get_subscription_count() for p in (images, joints, keypoints)), 30.0)
    values = []
    for index in range(count):
        header = Header(stamp=node.get_clock().now().to_msg(), frame_id="camera_optical_frame")
        images.publish(rgb_to_image_msg(np.full((64, 64, 3), index, np.uint8), header))
        joints.publish(JointState(header=header, name=["panda_joint1"], position=[0.01 * index]))
        keypoints.publish(KeypointArray(header=header, image_width=64, image_height=64,
                                        keypoints=[Keypoint(u_px=float(index), v_px=2.0, intensity=0.5)]))
        values.append(index)
        spin_until(executor, lambda: False, 0.02)
    return values


def read_bag(path) -> dict[str, list]:
    typestore = smrl_typestore()
    seen: dict[str, list] = {}
    with Reader(path) as reader:
        for connection, _, data in reader.messages():
            seen.setdefault(connection.topic, []).append(typestore.deserialize_cdr(data, connection.msgtype))
    return seen


def test_what_was_flushed_before_sigkill_reads_back_with_rosbags(recorder, ros_context, executor, spin_until):
    process, bag = recorder()
    published = publish_for(ros_context, executor, spin_until, 40)
    spin_until(executor, lambda: False, 1.0)  # a few flush periods
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert not (bag / "metadata.yaml").exists()  # killed: no clean close
    seen = read_bag(bag / "bag.mcap")
    assert set(seen) == {f"/{topic}" for topic in TOPICS}
    image_values = [int(image.data[0]) for image in seen["/camera/image_raw"]]
    assert len(image_values) >= 30 and set(image_values) <= set(published), image_values
    assert all(len(image.data) == 64 * 64 * 3 for image in seen["/camera/image_raw"])
    assert len(seen["/joint_states"]) == len(published)  # reliable: every one
    frames = load_episodes([bag / "bag.mcap"], image_size=64).episodes[0].frames_rgb  # training reads it too
    assert frames[:, 0, 0, 0].tolist() == image_values


def test_sigint_ends_cleanly_with_metadata_and_a_bag_independent_readers_decode(
        recorder, ros_context, executor, spin_until, mcap_messages):
    process, bag = recorder()
    published = publish_for(ros_context, executor, spin_until, 20)
    spin_until(executor, lambda: False, 0.5)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in metadata["topics_with_message_count"]}
    assert counts["/joint_states"] == len(published) and metadata["storage_identifier"] == "mcap"
    seen = read_bag(bag)
    assert {topic: len(messages) for topic, messages in seen.items()} == counts
    decoded = mcap_messages(bag / "bag.mcap")
    assert len(decoded) == sum(counts.values())
    keypoints = [message for topic, msgtype, message in decoded if msgtype == "smrl_msgs/msg/KeypointArray"]
    assert len(keypoints) == counts["/keypoints"] and keypoints[-1].keypoints[0].v_px == 2.0


def test_parameter_file_sets_exactly_the_declared_parameters():
    config = Path(__file__).resolve().parents[1] / "smrl_bag" / "config" / "recorder_node.yaml"
    values = yaml.safe_load(config.read_text())["recorder"]["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]), name


def test_an_existing_output_folder_is_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match=f"recorder_node: cannot open the bag to record: {tmp_path}: .*exists already"):
        main(["--ros-args", "-p", f"output:={tmp_path}"])
