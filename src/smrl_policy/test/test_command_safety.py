"""Actions to joint targets: position limits, velocity limits at every command, rejected actions, holds."""
import numpy as np
import pytest

from smrl_common.core.joint_command_guard import JointLimits
from smrl_policy.core.command_safety import ActionRejected, CommandSafety, stale_input

ARM = JointLimits(("a", "b", "c"), np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.5]), np.array([1.0, 2.0, 0.5]))
GRIPPER = JointLimits(("f1", "f2"), np.zeros(2), np.full(2, 0.04), np.full(2, 0.2))
PERIOD_S = 0.1


def make_safety(max_joint_delta_rad: float = 0.5) -> CommandSafety:
    return CommandSafety(ARM, GRIPPER, gripper_open=np.full(2, 0.04), gripper_closed=np.zeros(2),
                         max_joint_delta_rad=max_joint_delta_rad, control_period_s=PERIOD_S)


def test_an_always_plus_one_policy_moves_at_most_at_the_velocity_limits_and_stops_at_the_position_limits():
    safety = make_safety()
    measured = np.array([0.0, 1.9, 0.45])
    previous, time_s = measured, 0.0
    for _ in range(40):  # the arm follows every command exactly: the worst case for speed
        targets = safety.command(np.ones(4), measured, None, time_s)
        assert np.all(np.abs(targets.arm - previous) <= ARM.velocity * PERIOD_S + 1e-12)
        assert np.all(targets.arm <= ARM.upper) and np.all(targets.arm >= ARM.lower)
        previous = measured = targets.arm
        time_s += PERIOD_S
    np.testing.assert_allclose(measured, ARM.upper)
    assert 0.99 < safety.peak_speed_ratio <= 1.0 + 1e-12
    np.testing.assert_allclose(targets.gripper, 0.04)  # > 0 opens
    assert safety.commands == 40 and not safety.holds


def test_commands_in_quick_succession_step_only_as_far_as_the_time_between_them_allows():
    safety = make_safety()
    first = safety.command(np.ones(4), np.zeros(3), np.zeros(2), 0.0)
    np.testing.assert_allclose(first.arm, ARM.velocity * PERIOD_S)        # from the measured position, one period
    np.testing.assert_allclose(first.gripper, GRIPPER.velocity * PERIOD_S)
    second = safety.command(-np.ones(4), np.zeros(3), np.zeros(2), 0.01)  # 10 ms later, the other way
    np.testing.assert_allclose(second.arm, first.arm - ARM.velocity * 0.01)
    np.testing.assert_allclose(second.gripper, first.gripper - GRIPPER.velocity * 0.01)
    assert safety.peak_speed_ratio == pytest.approx(1.0)


def test_a_lagging_arm_keeps_commands_within_one_action_of_where_it_is():
    safety = make_safety(max_joint_delta_rad=0.05)
    for step in range(20):  # the arm does not move at all
        targets = safety.command(np.ones(4), np.zeros(3), None, step * PERIOD_S)
    np.testing.assert_allclose(targets.arm, [0.05, 0.05, 0.05])


def test_an_arm_moved_away_from_the_last_command_gets_commands_stepping_from_where_it_is():
    safety = make_safety()
    safety.command(np.ones(4), np.zeros(3), None, 0.0)            # the arm at 0 is sent towards +
    moved = np.array([-0.9, -1.5, 0.05])                           # then moved (an episode reset)
    targets = safety.command(np.ones(4), moved, None, PERIOD_S)
    np.testing.assert_allclose(targets.arm, moved + ARM.velocity * PERIOD_S)  # not back towards 0
    nearby = targets.arm - 0.5 * ARM.velocity * PERIOD_S          # an arm lagging by half a step stays on the commands
    np.testing.assert_allclose(safety.command(np.ones(4), nearby, None, 2 * PERIOD_S).arm,
                               np.minimum(targets.arm + ARM.velocity * PERIOD_S, ARM.upper))


@pytest.mark.parametrize("action, reason", [
    (np.full(4, np.nan), "non-finite action"),
    ([1.0, 0.0, np.inf, 1.0], "non-finite action"),
    (np.ones(3), "wrong action size"),
    (np.ones((2, 4)), "wrong action size"),
    ("left", "not numbers"),
])
def test_unusable_actions_are_rejected_and_counted(action, reason):
    safety = make_safety()
    with pytest.raises(ActionRejected) as error:
        safety.command(action, np.zeros(3), None, 0.0)
    assert error.value.reason == reason and safety.rejected_actions == {reason: 1} and safety.commands == 0


def test_out_of_range_actions_are_clipped_to_one_action():
    targets = make_safety(max_joint_delta_rad=0.01).command([100.0, -100.0, 0.0, -5.0], np.zeros(3), np.full(2, 0.04), 0.0)
    np.testing.assert_allclose(targets.arm, [0.01, -0.01, 0.0])
    np.testing.assert_allclose(targets.gripper, 0.04 - GRIPPER.velocity * PERIOD_S)  # closing, at its velocity limit


def test_a_hold_keeps_the_position_measured_when_it_began_and_the_next_command_starts_from_the_measured_one():
    safety = make_safety()
    safety.command(np.ones(4), np.zeros(3), None, 0.0)
    held = safety.hold(np.array([0.1, 0.2, 0.3]), None, "stale joint states")
    again = safety.hold(np.array([0.0, 0.0, 0.0]), None, "stale joint states")  # the arm sags: the hold stays
    np.testing.assert_allclose(again.arm, [0.1, 0.2, 0.3])
    assert held.held and again.held and safety.holding and safety.holds == {"stale joint states": 2}
    np.testing.assert_allclose(held.gripper, 0.04)  # no measured fingers: the last gripper command
    resumed = safety.command(np.zeros(4), np.array([0.4, 0.4, 0.4]), None, 0.15)
    np.testing.assert_allclose(resumed.arm, [0.4, 0.4, 0.4])
    assert not resumed.held and not safety.holding


def test_stale_inputs_are_named():
    assert stale_input(10.0, None, 9.9, 0.25) == "no self-model state yet"
    assert stale_input(10.0, 9.9, None, 0.25) == "no joint states yet"
    assert stale_input(10.0, 9.7, 9.99, 0.25) == "stale self-model state"
    assert stale_input(10.0, 9.9, 9.7, 0.25) == "stale joint states"
    assert stale_input(10.0, 9.9, 9.9, 0.25) is None


def test_a_late_tick_steps_no_further_than_one_period_allows_from_the_previous_command():
    safety = make_safety()
    first = safety.command(np.ones(4), np.zeros(3), None, 0.0)
    late = safety.command(np.ones(4), np.zeros(3), None, 5 * PERIOD_S)  # the arm did not follow
    np.testing.assert_allclose(late.arm, np.minimum(first.arm + ARM.velocity * PERIOD_S, 0.5))
    same_instant = safety.command(-np.ones(4), np.zeros(3), None, 5 * PERIOD_S)
    np.testing.assert_allclose(same_instant.arm, late.arm)
