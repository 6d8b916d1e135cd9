"""Motor babbling holds its targets for the same time at any control period (10 Hz datasets, 30 Hz camera)."""
import numpy as np
import pytest

from smrl_sim.core.motor_babbling import MotorBabbling
from smrl_sim.core.scene import SimWorld, load_scene_config


@pytest.fixture(scope="module")
def world():
    world = SimWorld(load_scene_config("default"))
    yield world
    world.close()


def hold_durations_s(babbling: MotorBabbling, duration_s: float) -> np.ndarray:
    """How long each target was held, over `duration_s` of control steps (the last one cut off)."""
    targets = np.array([babbling.next_targets() for _ in range(round(duration_s / babbling.control_period_s))])
    changes = np.flatnonzero(np.any(np.diff(targets, axis=0) != 0, axis=1)) + 1
    return np.diff(np.concatenate([[0], changes])) * babbling.control_period_s


@pytest.mark.parametrize("control_period_s", [0.1, 1 / 30])
def test_targets_are_held_for_hold_s_whatever_the_control_period(world, control_period_s):
    babbling = MotorBabbling(world, np.random.default_rng(0), control_period_s=control_period_s, hold_s=(0.3, 1.0))
    holds = hold_durations_s(babbling, 120.0)
    assert len(holds) > 100
    assert holds.min() >= 0.3 - 1e-9 and holds.max() <= 1.0 + 1e-9
    assert holds.mean() == pytest.approx(0.65, abs=0.05)
    limits = world.robot.arm_limits
    targets = np.array([babbling.next_targets() for _ in range(100)])
    assert np.all((targets >= limits.lower) & (targets <= limits.upper))
