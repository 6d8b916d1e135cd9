"""Scripted motion over real DDS, in both patterns: it moves only on fresh joint states, within the
limits, and holds when they go stale."""
import numpy as np
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from smrl_common.core.controller_topics import ARM_COMMANDS
from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.scripted_motion_node import ScriptedMotionNode


# Each pattern pushed to the joint limits: sines of 3 rad, babbling over the whole range with short holds.
PATTERNS = {
    "sines": [Parameter("amplitude_rad", value=3.0)],
    "babbling": [Parameter("babbling_spread", value=1.0), Parameter("babbling_hold_s", value=[0.05, 0.1])],
}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_commands_stay_within_limits_and_stop_when_joint_states_go_stale(pattern, ros_context, executor, spin_until):
    import rclpy

    robot = load_robot_config("panda")
    limits = robot.arm_limits()
    motion = ScriptedMotionNode(context=ros_context, parameter_overrides=[
        Parameter("rate_hz", value=50.0), Parameter("stale_timeout_s", value=0.3), Parameter("pattern", value=pattern),
        *PATTERNS[pattern]])
    driver = rclpy.create_node("fake_driver", context=ros_context)
    commands: list[np.ndarray] = []
    driver.create_subscription(Float64MultiArray, ARM_COMMANDS,
                               lambda m: commands.append(np.array(m.data)), 50)
    joint_states = driver.create_publisher(JointState, "joint_states", 10)
    executor.add_node(motion)
    executor.add_node(driver)

    spin_until(executor, lambda: False, 0.5)
    assert not commands, "no joint states yet: it must not move"

    measured = np.array(robot.home_positions)
    names = list(robot.joint_names)

    def publish_state() -> None:
        joint_states.publish(JointState(name=names, position=measured.tolist()))

    state_timer = driver.create_timer(0.02, publish_state)
    assert spin_until(executor, lambda: len(commands) >= 20, 5.0)
    moving = np.array(commands)
    assert np.all(moving <= limits.upper + 1e-9) and np.all(moving >= limits.lower - 1e-9)
    step = np.abs(moving - measured).max(axis=0)
    assert np.all(step <= limits.velocity * 0.5 / 50.0 + 1e-9), "one command moves at most speed_scale * v_max * dt"
    directions = np.sign(moving - measured)
    assert len(np.unique(directions, axis=0)) >= 2, "the goal changes over time (new targets, or the sines turn)"

    driver.destroy_timer(state_timer)
    stopped_at = len(commands)
    spin_until(executor, lambda: False, 1.0)
    assert len(commands) - stopped_at <= 1 + 0.35 * 50, "commands stop once joint states are stale"
    np.testing.assert_allclose(commands[-1], measured, err_msg="the last command holds the measured position")
    motion.destroy_node()
