import numpy as np
import pytest

from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.core.scene import SimWorld, load_scene_config


@pytest.fixture(scope="module")
def world():
    world = SimWorld(load_scene_config("default"))
    world.reset(np.random.default_rng(0))
    yield world
    world.close()


def test_limits_from_the_urdf_match_the_simulators(world):
    from_yaml_and_urdf = load_robot_config("panda").arm_limits()
    np.testing.assert_allclose(from_yaml_and_urdf.lower, world.robot.arm_limits.lower)
    np.testing.assert_allclose(from_yaml_and_urdf.upper, world.robot.arm_limits.upper)
    np.testing.assert_allclose(from_yaml_and_urdf.velocity, world.robot.arm_limits.velocity)


def test_targets_beyond_limits_stop_at_the_limit_and_joints_never_exceed_velocity_limits(world):
    robot = world.robot
    home = np.array(robot.config.home_positions)
    target = home.copy()
    target[3] = 1.5                   # joint 4's upper limit is 0.0 rad
    target[0] = home[0] + 2.5         # far away: a fast move
    robot.set_targets(target)
    peak_speed = np.zeros(7)
    for _ in range(600):
        world.step()
        _, velocity = robot.arm_state()
        peak_speed = np.maximum(peak_speed, np.abs(velocity))
    positions, _ = robot.arm_state()
    assert positions[3] <= robot.arm_limits.upper[3] + 0.01
    assert abs(positions[0] - target[0]) < 0.02
    assert np.all(peak_speed <= robot.arm_limits.velocity * 1.05), peak_speed


def test_peak_joint_speed_stays_within_the_velocity_limits_while_targets_jump_mid_motion(world):
    """Babbling over 60% of each joint's range, new targets while the arm still moves (reversals
    included): with PyBullet's maxVelocity alone the peak was 1.46x the limit."""
    from smrl_sim.core.motor_babbling import random_joint_targets

    robot = world.robot
    home = np.array(robot.config.home_positions)
    rng = np.random.default_rng(1)
    peak_ratio = np.zeros(7)
    for jump in range(30):
        robot.set_targets(random_joint_targets(home, robot.arm_limits, 0.6, rng))
        robot.set_gripper_closed(jump % 2 == 0)
        for _ in range(int(rng.integers(20, 240))):
            world.step()
            _, velocity = robot.arm_state()
            peak_ratio = np.maximum(peak_ratio, np.abs(velocity) / robot.arm_limits.velocity)
    assert peak_ratio.max() > 0.95, peak_ratio  # the motion did use the limits
    assert np.all(peak_ratio <= 1.05), peak_ratio


def test_unknown_robot_and_bad_yaml_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no robots config named 'nope'"):
        load_robot_config("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription_file: a.urdf\njoint_names: [a, b]\nhome_positions: [0]\n"
                   "velocity_limits: [1, 1]\nend_effector_link: e\n")
    with pytest.raises(ValueError, match="home_positions needs 2 values"):
        load_robot_config(str(bad))


def test_the_original_projects_kuka_loads_and_follows_targets():
    world = SimWorld(load_scene_config("kuka_original"))
    try:
        world.reset(np.random.default_rng(0))
        target = np.array(world.robot.config.home_positions) + 0.3
        world.robot.set_targets(target)
        world.step(480)
        np.testing.assert_allclose(world.robot.arm_state()[0], target, atol=0.03)
        rgb, _ = world.render()
        assert rgb.shape == (48, 48, 3)
    finally:
        world.close()
