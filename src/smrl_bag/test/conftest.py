"""Recorded data for the tests: a camera bag written as the recorder writes one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from smrl_bag.core.bag_recording import BagRecording
from smrl_common.core.bag_types import smrl_typestore

IMAGE_SIZE_PX = 64
ARM_JOINTS = [f"panda_joint{i}" for i in range(1, 8)]


def camera_frames(num_frames: int) -> np.ndarray:
    """(T, 64, 64, 3) uint8: a bright square sliding right over a dark background."""
    frames = np.full((num_frames, IMAGE_SIZE_PX, IMAGE_SIZE_PX, 3), 40, dtype=np.uint8)
    for t in range(num_frames):
        x = 4 + (2 * t) % (IMAGE_SIZE_PX - 12)
        frames[t, 24:32, x : x + 8] = (230, 200, 60)
    return frames


def write_camera_bag(path: Path, num_frames: int = 30, rate_hz: float = 30.0,
                     damaged_images: tuple[int, ...] = ()) -> Path:
    """A bag as the recorder writes it from the sim: images (rgb8, 64 px), camera_info with the
    same stamps, and joint_states, at `rate_hz`. Images at `damaged_images` are cut short."""
    typestore = smrl_typestore()
    types = typestore.types
    Header, Time = types["std_msgs/msg/Header"], types["builtin_interfaces/msg/Time"]
    bag = BagRecording(path, typestore)
    for topic, msgtype in (("/camera/image_raw", "sensor_msgs/msg/Image"),
                           ("/camera/camera_info", "sensor_msgs/msg/CameraInfo"),
                           ("/joint_states", "sensor_msgs/msg/JointState")):
        bag.add_topic(topic, msgtype)
    k = np.array([55.4, 0, 31.5, 0, 55.4, 31.5, 0, 0, 1], dtype=np.float64)
    for index, frame in enumerate(camera_frames(num_frames)):
        stamp_ns = 1_000_000_000_000 + round(index * 1e9 / rate_hz)
        header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id="camera_optical_frame")
        image = types["sensor_msgs/msg/Image"](header=header, height=IMAGE_SIZE_PX, width=IMAGE_SIZE_PX,
                                               encoding="rgb8", is_bigendian=0, step=IMAGE_SIZE_PX * 3,
                                               data=frame.reshape(-1))
        info = types["sensor_msgs/msg/CameraInfo"](
            header=header, height=IMAGE_SIZE_PX, width=IMAGE_SIZE_PX, distortion_model="plumb_bob",
            d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=np.hstack([k.reshape(3, 3), np.zeros((3, 1))]).reshape(-1),
            binning_x=0, binning_y=0,
            roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
        joints = types["sensor_msgs/msg/JointState"](
            header=types["std_msgs/msg/Header"](stamp=header.stamp, frame_id=""), name=ARM_JOINTS,
            position=np.full(7, 0.01 * index), velocity=np.zeros(7), effort=np.zeros(0))
        for topic, message in (("/camera/image_raw", image), ("/camera/camera_info", info), ("/joint_states", joints)):
            data = bytes(typestore.serialize_cdr(message, message.__msgtype__))
            if topic == "/camera/image_raw" and index in damaged_images:
                data = data[: len(data) // 2]
            bag.write(topic, stamp_ns + 1_000_000, data)  # received 1 ms after the stamp
    bag.close()
    return path


@pytest.fixture
def make_camera_bag():
    return write_camera_bag


@pytest.fixture
def make_camera_frames():
    return camera_frames


def decode_with_mcap(path: Path) -> list[tuple[str, str, object]]:
    """(topic, type, decoded message) of every message in an .mcap file, read by the `mcap`
    libraries alone: an independent check of what rosbags wrote and of the definitions embedded."""
    with open(path, "rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        return [(channel.topic, schema.name, message)
                for schema, channel, _, message in reader.iter_decoded_messages(log_time_order=False)]


@pytest.fixture
def mcap_messages():
    """The helper mcap_messages(mcap_path) -> [(topic, type, decoded message)]."""
    return decode_with_mcap
