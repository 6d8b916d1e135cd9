"""The sim node over real DDS: what it publishes, and how it treats good and bad commands."""
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from smrl_common.core.controller_topics import ARM_COMMANDS, ARM_TRAJECTORY, GRIPPER_COMMANDS
from smrl_msgs.msg import TaskStatus
from smrl_msgs.srv import ResetEpisode
from smrl_sim.sim_node import SimNode


@pytest.fixture
def graph(ros_context, executor):
    """The sim node plus a test node that records what it publishes."""
    import rclpy

    sim = SimNode(context=ros_context, parameter_overrides=[Parameter("camera_rate_hz", value=60.0)])
    probe = rclpy.create_node("probe", context=ros_context)
    seen = {"images": [], "infos": [], "joint_states": [], "description": []}
    probe.create_subscription(Image, "camera/image_raw", seen["images"].append, qos_profile_sensor_data)
    probe.create_subscription(CameraInfo, "camera/camera_info", seen["infos"].append, qos_profile_sensor_data)
    probe.create_subscription(JointState, "joint_states", seen["joint_states"].append, 50)
    executor.add_node(sim)
    executor.add_node(probe)
    yield sim, probe, seen
    sim.destroy_node()


def latest_arm(seen) -> np.ndarray:
    return np.array(seen["joint_states"][-1].position[:7])


def test_publishes_camera_joint_states_and_a_latched_robot_description(graph, executor, spin_until, ros_context):
    import rclpy

    sim, probe, seen = graph
    assert spin_until(executor, lambda: len(seen["images"]) >= 10 and seen["infos"] and seen["joint_states"], 10.0)
    image, info, joints = seen["images"][-1], seen["infos"][-1], seen["joint_states"][-1]
    assert (image.encoding, image.width, image.height, len(image.data)) == ("rgb8", 64, 64, 64 * 64 * 3)
    assert image.header.frame_id == info.header.frame_id == "camera_optical_frame"
    np.testing.assert_allclose(np.array(info.k).reshape(3, 3), sim.world.camera.intrinsics)
    assert list(joints.name) == [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]
    # A subscriber that joins late still gets the URDF (transient local), as robot_state_publisher needs.
    late = rclpy.create_node("late", context=ros_context)
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    late.create_subscription(String, "robot_description", seen["description"].append, latched)
    executor.add_node(late)
    assert spin_until(executor, lambda: seen["description"], 5.0)
    assert "<robot" in seen["description"][0].data and "package://" not in seen["description"][0].data


def test_a_position_command_moves_the_joints_to_it_within_limits(graph, executor, spin_until):
    sim, probe, seen = graph
    publisher = probe.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
    assert spin_until(executor, lambda: seen["joint_states"], 5.0)
    start = latest_arm(seen)
    target = start + np.array([0.6, 0.3, 0.0, 0.0, -0.4, 0.0, 0.5])
    target[3] = 0.8  # beyond joint 4's upper limit (0 rad): must stop at the limit
    publisher.publish(Float64MultiArray(data=target.tolist()))
    expected = np.minimum(target, sim.world.robot.arm_limits.upper)
    assert spin_until(executor, lambda: np.abs(latest_arm(seen) - expected).max() < 0.03, 10.0), latest_arm(seen)
    limits = sim.world.robot.arm_limits.velocity
    peak = np.max([np.abs(m.velocity[:7]) for m in seen["joint_states"]], axis=0)
    assert np.all(peak <= limits * 1.05), peak


def test_a_remapped_command_topic_reaches_the_sim(ros_context, executor, spin_until):
    """Controllers named otherwise are reached by remapping (as in graph.yaml's `remappings`), the
    ROS 2 way: the topic names are fixed in smrl_common.core.controller_topics, not parameters."""
    import rclpy

    sim = SimNode(context=ros_context, cli_args=["--ros-args", "-r", f"{ARM_COMMANDS}:=my_arm/commands"])
    probe = rclpy.create_node("probe", context=ros_context)
    joint_states = []
    probe.create_subscription(JointState, "joint_states", joint_states.append, 50)
    remapped = probe.create_publisher(Float64MultiArray, "my_arm/commands", 10)
    unmapped = probe.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
    executor.add_node(sim)
    executor.add_node(probe)
    try:
        assert spin_until(executor, lambda: joint_states and remapped.get_subscription_count(), 5.0)
        assert unmapped.get_subscription_count() == 0
        arm = lambda: np.array(joint_states[-1].position[:7])  # noqa: E731
        limits = sim.world.robot.arm_limits
        goal = np.clip(arm() + 0.3, limits.lower, limits.upper)
        remapped.publish(Float64MultiArray(data=goal.tolist()))
        assert spin_until(executor, lambda: np.abs(arm() - goal).max() < 0.03, 10.0), arm()
    finally:
        sim.destroy_node()


def test_malformed_commands_are_rejected_counted_and_never_applied(graph, executor, spin_until):
    sim, probe, seen = graph
    arm = probe.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
    gripper = probe.create_publisher(Float64MultiArray, GRIPPER_COMMANDS, 10)
    trajectory = probe.create_publisher(JointTrajectory, ARM_TRAJECTORY, 10)
    assert spin_until(executor, lambda: seen["joint_states"] and arm.get_subscription_count()
                      and trajectory.get_subscription_count() and gripper.get_subscription_count(), 5.0)
    start = latest_arm(seen)
    arm.publish(Float64MultiArray(data=[0.3] * 3))
    arm.publish(Float64MultiArray(data=[float("nan")] * 7))
    arm.publish(Float64MultiArray(data=[float("inf")] + [0.0] * 6))
    gripper.publish(Float64MultiArray(data=[0.01]))
    bad_names = JointTrajectory(joint_names=["panda_joint1", "elbow"],
                                points=[JointTrajectoryPoint(positions=[0.5, 0.5])])
    trajectory.publish(bad_names)
    rejected = lambda: sum(sim.arm_guard.rejections.values()) + sum(sim.gripper_guard.rejections.values())  # noqa: E731
    assert spin_until(executor, lambda: rejected() >= 5, 5.0), (sim.arm_guard.rejections, sim.gripper_guard.rejections)
    assert sim.arm_guard.rejections == {"wrong_length": 1, "not_finite": 2, "unknown_joint": 1}
    assert sim.gripper_guard.rejections["wrong_length"] == 1
    count = len(seen["joint_states"])
    spin_until(executor, lambda: len(seen["joint_states"]) > count + 30, 2.0)
    np.testing.assert_allclose(latest_arm(seen), start, atol=0.01)
    assert not sim.trajectory.active


def test_a_joint_trajectory_is_followed_to_its_last_point(graph, executor, spin_until):
    sim, probe, seen = graph
    publisher = probe.create_publisher(JointTrajectory, ARM_TRAJECTORY, 10)
    assert spin_until(executor, lambda: seen["joint_states"] and publisher.get_subscription_count(), 5.0)
    names = list(sim.world.robot.config.joint_names)
    goal = np.array(sim.world.robot.config.home_positions) + 0.25
    point = JointTrajectoryPoint(positions=goal[::-1].tolist())
    point.time_from_start.sec = 1
    publisher.publish(JointTrajectory(joint_names=names[::-1], points=[point]))
    assert spin_until(executor, lambda: np.abs(latest_arm(seen) - goal).max() < 0.03, 10.0), latest_arm(seen)


def test_reset_service_switches_task_and_reports_bad_requests(graph, executor, spin_until, ros_context):
    sim, probe, seen = graph
    client = probe.create_client(ResetEpisode, "sim/reset_episode")
    assert client.wait_for_service(timeout_sec=5.0)

    def call(task: str, seed: int) -> ResetEpisode.Response:
        future = client.call_async(ResetEpisode.Request(task=task, seed=seed))
        assert spin_until(executor, future.done, 10.0)
        return future.result()

    response = call("pick", 5)
    assert response.success and response.task == "pick" and response.seed == 5
    object_after_seed_5 = sim.world.object_position()
    assert call("", 5).task == "pick"
    np.testing.assert_allclose(sim.world.object_position(), object_after_seed_5, atol=1e-3)
    response = call("juggle", 1)
    assert not response.success and "unknown task" in response.message and response.task == "pick"


def test_task_status_reports_the_episode_and_its_ground_truth(graph, executor, spin_until):
    sim, probe, _ = graph
    statuses: list[TaskStatus] = []
    probe.create_subscription(TaskStatus, "sim/task_status", statuses.append, 10)
    client = probe.create_client(ResetEpisode, "sim/reset_episode")
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(ResetEpisode.Request(task="touch", seed=7))
    assert spin_until(executor, future.done, 10.0)
    episode = future.result().episode
    assert episode >= 1 and future.result().message.startswith(f"episode {episode}:")
    assert spin_until(executor, lambda: sum(s.episode == episode for s in statuses) >= 5, 10.0)
    mine = [s for s in statuses if s.episode == episode]
    assert all(s.task == "touch" and s.seed == 7 for s in mine)
    assert [s.elapsed_s for s in mine] == sorted(s.elapsed_s for s in mine) and mine[0].elapsed_s < 0.1
    with sim.world_lock:
        truth = sim.task.status(sim.world)
    assert not mine[-1].success and not mine[-1].in_contact   # home pose: the arm is clear of the object
    assert mine[-1].distance_m == pytest.approx(truth.distance_m, abs=0.02) and mine[-1].distance_m > 0.1


def test_image_conversion_reads_common_encodings_and_refuses_bad_ones():
    from std_msgs.msg import Header

    from smrl_common.image_messages import ImageFormatError, image_msg_to_rgb, rgb_to_image_msg

    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    message = rgb_to_image_msg(rgb, Header(frame_id="camera_optical_frame"))
    np.testing.assert_array_equal(image_msg_to_rgb(message), rgb)
    padded = Image(height=4, width=5, encoding="bgr8", step=16,
                   data=np.pad(rgb[:, :, ::-1].reshape(4, 15), ((0, 0), (0, 1))).tobytes())
    np.testing.assert_array_equal(image_msg_to_rgb(padded), rgb)
    with pytest.raises(ImageFormatError):
        image_msg_to_rgb(Image(height=4, width=5, encoding="32FC1", step=20, data=bytes(80)))
    with pytest.raises(ImageFormatError):
        image_msg_to_rgb(Image(height=4, width=5, encoding="rgb8", step=15, data=bytes(10)))


def test_a_camera_too_large_for_dds_stops_the_node_with_the_sizes_that_work(ros_context):
    """Between two processes 416x416 px images arrived 20/20, 420x420 16/20, 512x512 14/20 (Fast
    DDS defaults, best effort): the sim refuses such sizes instead of losing images quietly."""
    too_large = [Parameter("image_width", value=512), Parameter("image_height", value=512)]
    with pytest.raises(ValueError, match=r"512x512 px is 786432 bytes.*Sizes up to 416x416 px"):
        SimNode(context=ros_context, parameter_overrides=too_large)
