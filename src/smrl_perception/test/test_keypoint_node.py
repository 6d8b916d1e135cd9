"""The keypoint node over real DDS: with the real sim node, and fed bad messages by a test node."""
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from builtin_interfaces.msg import Time
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from smrl_common.core.pixel_coordinates import pixels_to_normalised
from smrl_common.image_messages import rgb_to_image_msg
from smrl_msgs.msg import KeypointArray
from smrl_perception.core.checkpoint import CheckpointError, save_checkpoint
from smrl_perception.core.transporter import Transporter, TransporterConfig
from smrl_perception.keypoint_node import PARAMETERS, KeypointNode, main
from smrl_sim.sim_node import SimNode

PACKAGE = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.single_threaded_executor


@pytest.fixture
def sim_graph(ros_context, executor):
    """The sim node (camera at 30 Hz), the keypoint node with the shipped model, and a test node
    that records images and keypoints."""
    import rclpy

    sim = SimNode(context=ros_context, parameter_overrides=[Parameter("camera_rate_hz", value=30.0)])
    node = KeypointNode(context=ros_context, parameter_overrides=[Parameter("overlay_scale", value=2)])
    probe = rclpy.create_node("probe", context=ros_context)
    seen = {"images": [], "keypoints": []}
    probe.create_subscription(Image, "camera/image_raw", seen["images"].append, qos_profile_sensor_data)
    probe.create_subscription(KeypointArray, "keypoints", seen["keypoints"].append, qos_profile_sensor_data)
    for each in (sim, node, probe):
        executor.add_node(each)
    yield sim, node, probe, seen
    node.destroy_node()
    sim.destroy_node()


@pytest.fixture
def fed_node(ros_context, executor):
    """A keypoint node fed by a test node's image publisher; call with the node's parameters."""
    import rclpy

    made = []

    def make(*parameters: Parameter):
        node = KeypointNode(context=ros_context, parameter_overrides=list(parameters))
        feeder = rclpy.create_node("feeder", context=ros_context)
        publisher = feeder.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        keypoints = []
        feeder.create_subscription(KeypointArray, "keypoints", keypoints.append, qos_profile_sensor_data)
        executor.add_node(node)
        executor.add_node(feeder)
        made.append(node)
        return node, publisher, keypoints

    yield make
    for node in made:
        node.destroy_node()


def image(frame_rgb: np.ndarray, stamp_s: int) -> Image:
    return rgb_to_image_msg(frame_rgb, Header(stamp=Time(sec=stamp_s), frame_id="camera_optical_frame"))


def stamp_of(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def test_every_camera_image_gets_its_keypoints_at_the_camera_rate(sim_graph, executor, spin_until):
    sim, node, probe, seen = sim_graph
    assert spin_until(executor, lambda: len(seen["keypoints"]) >= 3, 20.0)  # started up
    images_before, keypoints_before = len(seen["images"]), len(seen["keypoints"])
    spin_until(executor, lambda: False, 3.0)
    images = len(seen["images"]) - images_before
    keypoints = len(seen["keypoints"]) - keypoints_before
    assert images >= 30, f"the sim published only {images} images in 3 s"
    assert keypoints >= 0.9 * images, f"{keypoints} keypoint messages for {images} images; dropped {dict(node.dropped)}"
    image_stamps = {stamp_of(msg) for msg in seen["images"]}
    window = seen["keypoints"][keypoints_before:]  # the probe may have joined after the first images
    assert {stamp_of(msg) for msg in window} <= image_stamps
    num_keypoints = node.detector.num_keypoints
    for msg in window:
        assert (msg.image_width, msg.image_height, msg.header.frame_id) == (64, 64, "camera_optical_frame")
        assert len(msg.keypoints) == num_keypoints
        pixels = np.array([(k.u_px, k.v_px) for k in msg.keypoints])
        normalised = np.array([(k.x_norm, k.y_norm) for k in msg.keypoints])
        assert np.all(np.abs(normalised) <= 1.0) and all(0.0 <= k.intensity <= 1.0 for k in msg.keypoints)
        np.testing.assert_allclose(pixels_to_normalised(pixels, 64, 64), normalised, atol=1e-5)
    assert set(node.dropped) <= {"superseded by a newer image"}  # a busy CPU may drop a few; no bad images


def test_overlay_and_markers_are_made_only_for_subscribers_and_markers_lie_on_the_keypoint_rays(
    sim_graph, executor, spin_until
):
    sim, node, probe, seen = sim_graph
    assert spin_until(executor, lambda: len(seen["keypoints"]) >= 10, 20.0)
    assert node.published["/keypoints"] > 0
    assert node.published["/keypoints/overlay"] == node.published["/keypoints/markers"] == 0

    overlays, marker_arrays = [], []
    probe.create_subscription(Image, "keypoints/overlay", overlays.append, qos_profile_sensor_data)
    probe.create_subscription(MarkerArray, "keypoints/markers", marker_arrays.append, 10)
    assert spin_until(executor, lambda: overlays and marker_arrays, 10.0)
    overlay = overlays[-1]
    assert (overlay.encoding, overlay.width, overlay.height) == ("rgb8", 128, 128)  # overlay_scale 2
    assert stamp_of(overlay) in {stamp_of(msg) for msg in seen["images"]}

    keypoints_by_stamp = {stamp_of(msg): msg for msg in seen["keypoints"]}
    markers = marker_arrays[-1].markers
    rays = next(m for m in markers if m.type == Marker.LINE_LIST)
    spheres = next(m for m in markers if m.type == Marker.SPHERE_LIST)
    num_keypoints = node.detector.num_keypoints
    assert len(rays.points) == 2 * num_keypoints and len(spheres.points) == num_keypoints
    assert spheres.header.frame_id == "camera_optical_frame"
    assert sum(m.type == Marker.TEXT_VIEW_FACING for m in markers) == num_keypoints
    # Each sphere projects through the sim camera's K onto its keypoint's pixel.
    intrinsics = sim.world.camera.intrinsics
    points = np.array([(p.x, p.y, p.z) for p in spheres.points])
    projected = (points @ intrinsics.T)[:, :2] / points[:, 2:]
    keypoints = keypoints_by_stamp[stamp_of(spheres)].keypoints
    np.testing.assert_allclose(projected, [(k.u_px, k.v_px) for k in keypoints], atol=1e-3)


def test_malformed_images_are_dropped_counted_and_the_node_keeps_working(fed_node, executor, spin_until, make_frames):
    node, publisher, keypoints = fed_node()
    assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 5.0)
    good = make_frames(1, seed=0, image_size=64)[0]
    wrong_encoding = image(good, 1)
    wrong_encoding.encoding = "32FC1"
    truncated = image(good, 2)
    truncated.data = truncated.data[: len(truncated.data) // 2]
    for stamp_s, (msg, reason) in enumerate([
        (wrong_encoding, "unreadable image"),
        (truncated, "unreadable image"),
        (image(make_frames(1, seed=0, image_size=32)[0], 3), "wrong image size"),
    ]):
        before = node.dropped[reason]
        publisher.publish(msg)
        assert spin_until(executor, lambda: node.dropped[reason] == before + 1, 5.0), (stamp_s, dict(node.dropped))
    assert node.dropped == {"unreadable image": 2, "wrong image size": 1} and not keypoints
    publisher.publish(image(good, 10))
    assert spin_until(executor, lambda: keypoints, 5.0)
    assert stamp_of(keypoints[0]) == (10, 0)


def test_a_model_that_gives_nan_has_its_frames_dropped_not_published(
    fed_node, executor, spin_until, make_frames, tmp_path
):
    model = Transporter(TransporterConfig(image_size=32, num_keypoints=3))
    with torch.no_grad():
        next(model.keypoint_encoder.parameters()).fill_(float("nan"))
    path = save_checkpoint(tmp_path / "broken.pt", model, step=0)
    node, publisher, keypoints = fed_node(Parameter("checkpoint", value=str(path)))
    assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 5.0)
    publisher.publish(image(make_frames(1, seed=0)[0], 1))
    assert spin_until(executor, lambda: node.dropped["non-finite keypoints"] == 1, 5.0)
    assert not keypoints


def test_when_inference_is_slower_than_the_camera_stale_images_are_dropped_for_the_newest(
    fed_node, executor, spin_until, make_frames
):
    node, publisher, keypoints = fed_node()
    detect = node.detector.detect
    node.detector.detect = lambda frame: (time.sleep(0.1), detect(frame))[1]  # a CPU 50x slower
    assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 5.0)
    frame = make_frames(1, seed=0, image_size=64)[0]

    def camera() -> None:  # 10 images at 100 Hz, from a thread of its own as a camera driver's
        for stamp_s in range(1, 11):
            publisher.publish(image(frame, stamp_s))
            time.sleep(0.01)

    camera_thread = threading.Thread(target=camera)
    camera_thread.start()
    assert spin_until(executor, lambda: keypoints and stamp_of(keypoints[-1]) == (10, 0), 5.0)
    camera_thread.join()
    superseded = node.dropped["superseded by a newer image"]
    assert len(keypoints) + superseded == 10 and superseded >= 5, (len(keypoints), superseded)


def test_a_second_camera_publisher_is_not_counted_as_skipped_images(
    ros_context, fed_node, executor, spin_until, make_frames
):
    """Sequence numbers are per publisher: a second publisher on the camera topic (a driver
    restarted beside the old one) starts at 1 again, and an image counts as skipped only when its
    own publisher's sequence skips."""
    import rclpy

    node, first, keypoints = fed_node()
    second_camera = rclpy.create_node("second_camera", context=ros_context)
    second = second_camera.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    executor.add_node(second_camera)
    assert spin_until(executor, lambda: first.get_subscription_count() and second.get_subscription_count(), 5.0)
    frame = make_frames(1, seed=0, image_size=64)[0]
    for stamp_s, camera in enumerate([first, first, second, first, second], start=1):
        camera.publish(image(frame, stamp_s))
        assert spin_until(executor, lambda: len(keypoints) == stamp_s, 5.0), (stamp_s, len(keypoints))
    assert node.dropped["superseded by a newer image"] == 0, node.dropped


def test_a_missing_or_corrupt_checkpoint_is_a_clear_error_at_start(ros_context, tmp_path):
    with pytest.raises(CheckpointError, match="absent.pt: no such file"):
        absent = Parameter("checkpoint", value=str(tmp_path / "absent.pt"))
        KeypointNode(context=ros_context, parameter_overrides=[absent])
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="cannot open the keypoint model: .*corrupt.pt: not a readable checkpoint"):
        main(["--ros-args", "-p", f"checkpoint:={corrupt}"])


def test_the_parameter_file_sets_exactly_the_declared_parameters_with_their_types():
    config = yaml.safe_load((PACKAGE / "smrl_perception" / "config" / "keypoint_node.yaml").read_text())
    values = config["keypoint_detector"]["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]), name
