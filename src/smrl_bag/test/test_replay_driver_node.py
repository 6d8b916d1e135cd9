"""The replay driver stands in for the arm: the keypoint node runs on a bag with no sim process."""
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from smrl_bag.replay_driver_node import PARAMETERS, ReplayDriverNode, main
from smrl_common.core.controller_topics import ARM_COMMANDS, ARM_TRAJECTORY, GRIPPER_COMMANDS
from smrl_msgs.msg import KeypointArray
from smrl_perception.keypoint_node import KeypointNode

PACKAGE = Path(__file__).resolve().parents[1]


def stamp_ns(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


@pytest.fixture
def started(ros_context, executor):
    """started(NodeClass, **parameters): the node on the test's executor, destroyed after the test
    (its threads stopped before the context goes)."""
    nodes = []

    def start(node_class, **parameters):
        nodes.append(node_class(context=ros_context, parameter_overrides=[
            Parameter(name, value=value) for name, value in parameters.items()]))
        executor.add_node(nodes[-1])
        return nodes[-1]

    yield start
    for node in nodes:
        node.destroy_node()


@pytest.fixture
def probe(ros_context, executor):
    """A test node that keeps what the graph publishes, with the time it arrived."""
    import rclpy

    node = rclpy.create_node("probe", context=ros_context)
    seen = {"images": [], "infos": [], "joint_states": [], "keypoints": []}
    keep = lambda key: lambda msg: seen[key].append((time.monotonic(), msg))  # noqa: E731
    node.create_subscription(Image, "camera/image_raw", keep("images"), qos_profile_sensor_data)
    node.create_subscription(CameraInfo, "camera/camera_info", keep("infos"), qos_profile_sensor_data)
    node.create_subscription(JointState, "joint_states", keep("joint_states"), 50)
    node.create_subscription(KeypointArray, "keypoints", keep("keypoints"), qos_profile_sensor_data)
    executor.add_node(node)
    return node, seen


@pytest.mark.single_threaded_executor
def test_the_keypoint_node_runs_on_replayed_images_with_no_sim(
        tmp_path, make_camera_bag, executor, spin_until, started, probe):
    bag = make_camera_bag(tmp_path / "bag", num_frames=60, rate_hz=30.0)
    started(KeypointNode)
    _, seen = probe
    assert spin_until(executor, lambda: probe[0].count_publishers("keypoints"), 10.0)
    started_ns = probe[0].get_clock().now().nanoseconds
    driver = started(ReplayDriverNode, bag=str(bag))
    assert spin_until(executor, lambda: not driver._replay.is_alive(), 10.0)
    spin_until(executor, lambda: len(seen["keypoints"]) >= len(seen["images"]), 5.0)
    assert driver.published == {"camera/image_raw": 60, "camera/camera_info": 60, "joint_states": 60}
    image_stamps = [stamp_ns(msg.header) for _, msg in seen["images"]]
    assert len(image_stamps) >= 50  # best effort between nodes of one process: a few may go
    assert min(image_stamps) >= started_ns  # restamped to now...
    frame_steps = np.diff(image_stamps) / (1e9 / 30)  # ...keeping the recorded spacing (some frames may be lost)
    assert np.all(frame_steps > 0.5) and np.allclose(frame_steps, np.round(frame_steps), atol=1e-4), frame_steps
    assert {stamp_ns(m.header) for _, m in seen["infos"]} & set(image_stamps)  # image and info share stamps
    arrivals_s = np.array([t for t, _ in seen["images"]])
    assert abs((arrivals_s[-1] - arrivals_s[0]) - (len(arrivals_s) - 1) / 30) < 0.25, "not at recorded pace"
    keypoint_frames = (np.array([stamp_ns(msg.header) for _, msg in seen["keypoints"]]) - image_stamps[0]) / (1e9 / 30)
    assert len(set(keypoint_frames.round())) >= 30  # keypoints of replayed images: on the replayed stamps
    np.testing.assert_allclose(keypoint_frames, keypoint_frames.round(), atol=1e-4)
    assert all(len(msg.keypoints) == 8 for _, msg in seen["keypoints"])


def test_undecodable_messages_are_skipped_and_counted_and_a_loop_replays_again(
        tmp_path, make_camera_bag, executor, spin_until, started):
    bag = make_camera_bag(tmp_path / "bag", num_frames=10, rate_hz=100.0, damaged_images=(2, 5))
    driver = started(ReplayDriverNode, bag=str(bag), loop=True, topics=["camera/image_raw"])
    assert spin_until(executor, lambda: driver.published["camera/image_raw"] >= 16, 10.0)
    assert driver._replay.is_alive() and driver.dropped["undecodable message"] >= 4


def test_commands_are_checked_like_the_sims_counted_and_never_applied(
        tmp_path, make_camera_bag, executor, spin_until, started, probe, publish_each):
    bag = make_camera_bag(tmp_path / "bag", num_frames=300, rate_hz=30.0)
    driver = started(ReplayDriverNode, bag=str(bag))
    node, seen = probe
    arm = node.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
    gripper = node.create_publisher(Float64MultiArray, GRIPPER_COMMANDS, 10)
    trajectory = node.create_publisher(JointTrajectory, ARM_TRAJECTORY, 10)
    assert spin_until(executor, lambda: all(p.get_subscription_count() for p in (arm, gripper, trajectory)), 5.0)
    handled = lambda: (sum(driver.commands.values()) + sum(driver.arm_guard.rejections.values())  # noqa: E731
                       + sum(driver.gripper_guard.rejections.values()))
    names = [f"panda_joint{i}" for i in range(1, 8)]
    good_point = JointTrajectoryPoint(positions=[0.1] * 7)
    good_point.time_from_start.sec = 1
    assert not publish_each(executor, arm, [Float64MultiArray(data=[0.2] * 7), Float64MultiArray(data=[0.3] * 3),
                                            Float64MultiArray(data=[float("nan")] * 7)], handled)
    assert not publish_each(executor, gripper, [Float64MultiArray(data=[0.02, 0.02]), Float64MultiArray(data=[1.0])],
                            handled)
    assert not publish_each(executor, trajectory, [JointTrajectory(joint_names=names, points=[good_point]),
                                                   JointTrajectory(joint_names=["elbow"], points=[good_point])], handled)
    assert driver.commands == {ARM_COMMANDS: 1, GRIPPER_COMMANDS: 1, ARM_TRAJECTORY: 1}
    assert driver.arm_guard.rejections == {"wrong_length": 1, "not_finite": 1, "length_mismatch": 1}
    assert driver.gripper_guard.rejections == {"wrong_length": 1}
    recorded = [msg.position[0] for _, msg in seen["joint_states"]]
    np.testing.assert_allclose(np.diff(recorded), 0.01, atol=1e-9)  # still the recording: commands move nothing


@pytest.mark.parametrize("arguments, reason", [
    ([], "no bag given"), (["-p", "bag:=/nonexistent/bag"], "/nonexistent/bag: no such bag")])
def test_a_missing_bag_is_one_line_at_startup(arguments, reason):
    with pytest.raises(SystemExit, match=f"^replay_driver_node: cannot open the bag: {reason}"):
        main(["--ros-args", *arguments])


def test_a_corrupt_bag_is_one_line_at_startup(tmp_path, make_camera_bag):
    bag = make_camera_bag(tmp_path / "bag", num_frames=3)
    (bag / "bag.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(SystemExit, match=f"cannot open the bag: {bag}: not a readable rosbag2 bag"):
        main(["--ros-args", "-p", f"bag:={bag}"])


def test_parameter_file_sets_exactly_the_declared_parameters():
    values = yaml.safe_load((PACKAGE / "smrl_bag" / "config" / "replay_driver_node.yaml").read_text())
    values = values["replay_driver"]["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]), name
