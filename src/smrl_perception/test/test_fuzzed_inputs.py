"""Malformed messages on every topic the keypoint node subscribes to (camera/image_raw,
camera/camera_info): each is dropped and counted, the node lives on, good images work afterwards."""
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from smrl_common.image_messages import rgb_to_image_msg
from smrl_msgs.msg import KeypointArray
from smrl_perception.keypoint_node import KeypointNode

NAN, INF = float("nan"), float("inf")


def image(frame_rgb: np.ndarray, sec: int = 100, **fields) -> Image:
    msg = rgb_to_image_msg(frame_rgb, Header(stamp=Time(sec=sec), frame_id="camera_optical_frame"))
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def camera_info(k) -> CameraInfo:
    return CameraInfo(width=64, height=64, k=list(k))


@pytest.mark.single_threaded_executor
def test_the_keypoint_node_drops_malformed_images_and_camera_infos_and_keeps_working(
        ros_context, executor, spin_until, publish_each, make_frames):
    import rclpy

    node = KeypointNode(context=ros_context)
    feeder = rclpy.create_node("feeder", context=ros_context)
    images = feeder.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    infos = feeder.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
    keypoints = []
    feeder.create_subscription(KeypointArray, "keypoints", keypoints.append, qos_profile_sensor_data)
    executor.add_node(node)
    executor.add_node(feeder)
    assert spin_until(executor, lambda: images.get_subscription_count() and infos.get_subscription_count(), 5.0)
    good = make_frames(1, seed=0, image_size=64)[0]
    bad_images = [
        image(good, encoding="32FC1"), image(good, encoding=""), image(good, encoding="RGB8"),
        image(good, encoding="rgb16"),
        image(good, step=64 * 3 - 1),                               # rows shorter than the pixels
        image(good, step=64 * 3 + 8),                               # rows longer than the data holds
        image(good, width=65), image(good, height=63),              # sizes that do not match the data
        image(good, data=b""),
        image(good, width=0, height=0, step=0, data=b""),            # empty: readable, of no use
        image(good, width=100_000, height=100_000, step=300_000),   # huge, with 12 kB of data
        image(make_frames(1, seed=0, image_size=256)[0]),           # readable, not the model's size
        image(make_frames(1, seed=0, image_size=32)[0]),
    ]
    assert publish_each(executor, images, bad_images, lambda: sum(node.dropped.values())) == []
    bad_infos = [camera_info([NAN] * 9), camera_info([INF] + [0.0] * 8), camera_info([0.0] * 9),
                 camera_info([100.0, 0, 32, 0, 100.0, 32, 0, 0, 0])]  # not a camera matrix
    assert publish_each(executor, infos, bad_infos, lambda: sum(node.dropped.values())) == []
    assert node.dropped == {"unreadable image": 10, "wrong image size": 3, "unusable camera_info": 4}
    assert not keypoints and node.camera is None
    # Stamps are passed on, not judged (the self model judges them): these are good images.
    for sec in (-5, 2_000_000_000, 100):
        before = len(keypoints)
        images.publish(image(good, sec=sec))
        assert spin_until(executor, lambda: len(keypoints) > before, 5.0), dict(node.dropped)
    assert [k.header.stamp.sec for k in keypoints] == [-5, 2_000_000_000, 100]
    node.destroy_node()
