import numpy as np
import pytest

from smrl_common.core.joint_command_guard import CommandRejected, JointCommandGuard, JointLimits
from smrl_sim.core.trajectory import TrajectoryFollower

LIMITS = JointLimits(("a", "b"), np.array([-1.0, -1.0]), np.array([1.0, 1.0]), np.array([1.0, 1.0]))


def test_follower_interpolates_from_the_current_position_through_the_points():
    follower = TrajectoryFollower(JointCommandGuard(LIMITS))
    trajectory = follower.plan(["b", "a"], [1.0, 2.0], [[0.2, 0.4], [0.0, 2.0]])
    follower.start(trajectory, now_s=10.0, current_positions=np.zeros(2))
    np.testing.assert_allclose(follower.targets(10.5), [0.2, 0.1])
    np.testing.assert_allclose(follower.targets(11.0), [0.4, 0.2])
    np.testing.assert_allclose(follower.targets(11.5), [0.7, 0.1])
    np.testing.assert_allclose(follower.targets(20.0), [1.0, 0.0])  # clamped to the upper limit


@pytest.mark.parametrize("times, points, reason", [
    ([1.0, 1.0], [[0, 0], [0, 0]], "bad_time"),
    ([1.0, np.nan], [[0, 0], [0, 0]], "bad_time"),
    ([1.0], [[0, np.nan]], "not_finite"),
    ([], [], "empty_trajectory"),
    ([1.0, 2.0, 3.0], [[0, 0]] * 3, "too_many_points"),
    ([1.0], [[0, 0]] * 2, "length_mismatch"),
])
def test_a_bad_point_rejects_the_whole_trajectory(times, points, reason):
    follower = TrajectoryFollower(JointCommandGuard(LIMITS), max_points=2)
    with pytest.raises(CommandRejected, match=reason):
        follower.plan(["a", "b"], times, points)
    assert not follower.active and follower.targets(1.0) is None
    assert follower.guard.rejections == {reason: 1}
