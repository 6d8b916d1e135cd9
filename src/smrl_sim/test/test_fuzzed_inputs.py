"""Malformed messages on every topic the sim node and the scripted motion node subscribe to: each
is dropped or rejected and counted, the node lives on, and good messages work afterwards."""
import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from smrl_common.core.controller_topics import ARM_COMMANDS, ARM_TRAJECTORY, GRIPPER_COMMANDS
from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.scripted_motion_node import ScriptedMotionNode
from smrl_sim.sim_node import SimNode

ROBOT = load_robot_config("panda")
ARM = list(ROBOT.joint_names)
NAN, INF = float("nan"), float("inf")


def stamped(msg, sec: int):
    msg.header.stamp.sec = sec
    return msg


def trajectory(names, *points, times_s=None):
    """A JointTrajectory with one point per positions list, 0.5 s apart unless times_s says."""
    msg = JointTrajectory(joint_names=list(names))
    for index, positions in enumerate(points):
        point = JointTrajectoryPoint(positions=list(positions))
        t = (index + 1) * 0.5 if times_s is None else times_s[index]
        point.time_from_start.sec, point.time_from_start.nanosec = int(t // 1), int(t % 1 * 1e9)
        msg.points.append(point)
    return msg


HOME = list(ROBOT.home_positions)
BAD_ARM_COMMANDS = [[], [0.1] * 6, [0.1] * 8, [0.1] * 100_000, [NAN] * 7, [0.0] * 6 + [INF], [-INF] * 7]
BAD_GRIPPER_COMMANDS = [[], [0.01], [0.01] * 3, [NAN, 0.01], [INF, INF], [0.01] * 100_000]
BAD_TRAJECTORIES = [
    trajectory(ARM),                                           # no points
    trajectory(ARM[:-1] + ARM[:1], HOME),                      # a joint twice, one missing
    trajectory(ARM[:-1] + ["elbow"], HOME),                    # an unknown joint
    trajectory(ARM, HOME[:-1]),                                # fewer positions than names
    trajectory(ARM, HOME + [0.0]),                             # more positions than names
    trajectory(ARM, HOME[:-1] + [NAN]),
    trajectory(ARM, HOME[:-1] + [INF]),
    trajectory(ARM, HOME, HOME, times_s=[1.0, 1.0]),           # times not increasing
    trajectory(ARM, HOME, times_s=[-1.0]),                     # a negative time from start
    trajectory(ARM, *[HOME] * 20_000, times_s=np.arange(1, 20_001) * 1e-3),  # too many points
    trajectory([f"joint_{i}" for i in range(10_000)], [0.0] * 10_000),       # huge and unknown
]


@pytest.fixture
def sim_and_feeder(ros_context, executor):
    import rclpy

    sim = SimNode(context=ros_context, parameter_overrides=[Parameter("camera_rate_hz", value=5.0)])
    feeder = rclpy.create_node("feeder", context=ros_context)
    joint_states = []
    feeder.create_subscription(JointState, "joint_states", joint_states.append, 50)
    executor.add_node(sim)
    executor.add_node(feeder)
    yield sim, feeder, joint_states
    sim.destroy_node()


def test_the_sim_node_rejects_malformed_commands_counts_them_and_obeys_good_ones_after(
        sim_and_feeder, executor, spin_until, publish_each):
    sim, feeder, joint_states = sim_and_feeder
    arm = feeder.create_publisher(Float64MultiArray, ARM_COMMANDS, 10)
    gripper = feeder.create_publisher(Float64MultiArray, GRIPPER_COMMANDS, 10)
    trajectories = feeder.create_publisher(JointTrajectory, ARM_TRAJECTORY, 10)
    assert spin_until(executor, lambda: joint_states and all(
        p.get_subscription_count() for p in (arm, gripper, trajectories)), 5.0)

    def rejected():
        return sum(sim.arm_guard.rejections.values()) + sum(sim.gripper_guard.rejections.values())

    assert publish_each(executor, arm, [Float64MultiArray(data=d) for d in BAD_ARM_COMMANDS], rejected) == []
    assert publish_each(executor, gripper, [Float64MultiArray(data=d) for d in BAD_GRIPPER_COMMANDS], rejected) == []
    assert publish_each(executor, trajectories, BAD_TRAJECTORIES, rejected) == []
    assert sim.arm_guard.accepted == 0 and not sim.trajectory.active
    assert sim.arm_guard.rejections == {
        "wrong_length": 4, "not_finite": 5, "empty_trajectory": 1, "duplicate_joint": 1, "unknown_joint": 2,
        "length_mismatch": 2, "bad_time": 2, "too_many_points": 1}
    assert sim.gripper_guard.rejections == {"wrong_length": 4, "not_finite": 2}

    # Stamps say nothing to the sim (as to joint_trajectory_controller with a zero stamp: start now).
    goal = np.array(HOME) + 0.2
    trajectories.publish(stamped(trajectory(ARM, HOME), -5))
    trajectories.publish(stamped(trajectory(ARM, goal), 2_000_000_000))
    assert spin_until(executor, lambda: np.abs(np.array(joint_states[-1].position[:7]) - goal).max() < 0.03, 10.0)
    arm.publish(Float64MultiArray(data=HOME))
    assert spin_until(executor, lambda: np.abs(np.array(joint_states[-1].position[:7]) - HOME).max() < 0.03, 10.0)


def joint_state(names, positions, sec: int = 100) -> JointState:
    return stamped(JointState(name=list(names), position=list(positions)), sec)


BAD_JOINT_STATES = [
    joint_state(ARM, HOME[:-1]),                               # fewer positions than names
    joint_state(ARM + ARM[:1], HOME + [0.0]),                  # a joint twice
    joint_state(ARM[:-1] + ["elbow"], HOME),                   # a joint missing
    joint_state([], []),
    joint_state(ARM, HOME[:-1] + [NAN]),
    joint_state(ARM, [INF] + HOME[1:]),
    joint_state([f"joint_{i}" for i in range(10_000)], [0.0] * 10_000),
    joint_state(ARM, [0.0] * 100_000),
]


def test_scripted_motion_drops_malformed_joint_states_counts_them_and_moves_on_good_ones(
        ros_context, executor, spin_until, publish_each):
    import rclpy

    motion = ScriptedMotionNode(context=ros_context, parameter_overrides=[Parameter("rate_hz", value=50.0)])
    driver = rclpy.create_node("fake_driver", context=ros_context)
    commands = []
    driver.create_subscription(Float64MultiArray, ARM_COMMANDS, commands.append, 50)
    joint_states = driver.create_publisher(JointState, "joint_states", 10)
    executor.add_node(motion)
    executor.add_node(driver)
    assert spin_until(executor, lambda: joint_states.get_subscription_count(), 5.0)
    assert publish_each(executor, joint_states, BAD_JOINT_STATES, lambda: sum(motion.dropped.values())) == []
    assert motion.dropped == {"joint count mismatch": 2, "duplicate joint names": 1, "unknown joint names": 3,
                              "non-finite positions": 2}
    assert not commands, "nothing usable came: it must not move"
    # Stamps are not read: freshness is the arrival time, so a good joint state moves it whatever its stamp.
    for sec in (-5, 2_000_000_000, 100):
        joint_states.publish(joint_state(ARM, HOME, sec))
    assert spin_until(executor, lambda: len(commands) >= 3, 5.0)
    motion.destroy_node()
