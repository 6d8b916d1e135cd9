import numpy as np
import pytest

from smrl_common.core.joint_command_guard import CommandRejected, JointCommandGuard, JointLimits

LIMITS = JointLimits(("a", "b", "c"), np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.5]), np.array([1.0, 2.0, 0.5]))


def test_in_order_command_is_clamped_to_position_limits():
    guard = JointCommandGuard(LIMITS)
    np.testing.assert_allclose(guard.positions([5.0, -0.5, -3.0]), [1.0, -0.5, 0.0])
    assert guard.accepted == 1 and not guard.rejections


def test_named_command_is_reordered_to_the_limits_order():
    guard = JointCommandGuard(LIMITS)
    np.testing.assert_allclose(guard.positions([0.4, 0.1, 0.2], names=["c", "a", "b"]), [0.1, 0.2, 0.4])


@pytest.mark.parametrize("values, names, reason", [
    ([0.0, 0.0], None, "wrong_length"),
    ([0.0, 0.0, 0.0, 0.0], None, "wrong_length"),
    ([0.0, np.nan, 0.0], None, "not_finite"),
    ([0.0, np.inf, 0.0], None, "not_finite"),
    ([0.0, 0.0, 0.0], ["a", "b", "x"], "unknown_joint"),
    ([0.0, 0.0, 0.0], ["a", "a", "b"], "duplicate_joint"),
    ([0.0, 0.0], ["a", "b"], "missing_joint"),
    ([0.0, 0.0, 0.0], ["a", "b"], "length_mismatch"),
])
def test_malformed_commands_are_rejected_and_counted(values, names, reason):
    guard = JointCommandGuard(LIMITS)
    with pytest.raises(CommandRejected, match=reason):
        guard.positions(values, names)
    assert guard.rejections[reason] == 1 and guard.accepted == 0


def test_limit_step_moves_at_most_at_velocity_limits():
    step = LIMITS.limit_step(np.zeros(3), np.array([10.0, -10.0, 0.01]), dt_s=0.1)
    np.testing.assert_allclose(step, [0.1, -0.2, 0.01])
