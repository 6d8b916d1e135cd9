"""Picking the arm joints out of joint states, and pairing keypoint frames with joint states by stamp."""
import math

import numpy as np
import pytest

from smrl_self_model.core.joint_states import (
    FrameSync,
    JointStateBuffer,
    JUMP_CONFIRMATIONS,
    MalformedJointState,
    NoJointStateNear,
    RejectedStamp,
    arm_joint_positions,
)

ARM = ["j1", "j2", "j3"]


def test_arm_joints_are_picked_by_name_in_the_schemas_order():
    positions = arm_joint_positions(["finger", "j3", "j1", "j2"], [0.04, 3.0, 1.0, 2.0], ARM)
    np.testing.assert_array_equal(positions, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("names, positions, reason", [
    (["j1", "j2", "j3"], [1.0, 2.0], "joint count mismatch"),
    (["j1", "j2", "elbow"], [1.0, 2.0, 3.0], "unknown joint names"),
    (["j1", "j2", "j3"], [1.0, math.nan, 3.0], "non-finite positions"),
    (["j1", "j2", "j3"], [1.0, math.inf, 3.0], "non-finite positions"),
    (["j1", "j2", "j3", "j2"], [1.0, 2.0, 3.0, 5.0], "duplicate joint names"),
    (["j1", "j2", "j3", "finger", "finger"], [1.0, 2.0, 3.0, 0.0, 0.0], "duplicate joint names"),
])
def test_unusable_joint_states_raise_with_a_reason_to_count_by(names, positions, reason):
    with pytest.raises(MalformedJointState) as raised:
        arm_joint_positions(names, positions, ARM)
    assert raised.value.reason == reason


def buffer_at(*stamps_s, history_s=1.0):
    buffer = JointStateBuffer(history_s)
    for stamp_s in stamps_s:
        buffer.add(stamp_s, np.full(3, stamp_s))
    return buffer


def test_the_nearest_joint_state_is_paired_and_its_age_reported():
    buffer = buffer_at(10.00, 10.01, 10.03, 10.02)  # one arrives late
    match = buffer.nearest(10.024, max_offset_s=0.05)
    assert match.stamp_s == 10.02 and match.positions_rad[0] == 10.02
    assert math.isclose(match.age_s, 0.004)
    assert math.isclose(buffer.nearest(9.99, 0.05).age_s, -0.01)  # a joint state newer than the frame


@pytest.mark.parametrize("stamp_s, reason", [
    (10.5, "stale joint states"),                      # the joint states stopped
    (9.0, "keypoints older than the joint states"),    # the keypoints lag by more than the history
    (10.15, "gap in the joint states"),                # joint states missing around the frame
])
def test_no_joint_state_near_a_frame_is_reported_not_guessed(stamp_s, reason):
    buffer = buffer_at(8.0, 10.0, 10.1, 10.2)  # 8.0 is forgotten: older than the 1 s history
    with pytest.raises(NoJointStateNear) as raised:
        buffer.nearest(stamp_s, max_offset_s=0.02)
    assert raised.value.reason == reason


def test_frames_from_before_the_first_joint_state_are_told_apart_from_late_ones():
    """At start-up the camera may begin before the joint states come: not a lag, and counted apart."""
    with pytest.raises(NoJointStateNear) as raised:
        buffer_at(10.0, 10.1).nearest(9.9, max_offset_s=0.02)
    assert raised.value.reason == "keypoints before the first joint state"


def test_an_empty_buffer_says_so():
    with pytest.raises(NoJointStateNear) as raised:
        JointStateBuffer().nearest(1.0, 0.05)
    assert raised.value.reason == "no joint states"


def test_only_the_history_is_kept():
    buffer = buffer_at(*np.arange(0.0, 5.0, 0.01), history_s=0.5)
    assert 50 <= len(buffer) <= 52
    assert buffer.nearest(4.99, 0.001).stamp_s == pytest.approx(4.99)


def settled(pairings):
    """[(frame, joint state stamp or the reason it has none)] of settled pairings."""
    return [(p.frame, p.joint_state.stamp_s if p.joint_state else p.unpaired.reason) for p in pairings]


def test_a_frame_waits_for_the_joint_state_after_it_then_takes_the_nearest():
    sync = FrameSync(max_offset_s=0.05, max_wait_s=0.1)
    sync.add_joint_state(10.00, np.zeros(3))
    assert sync.add_frame(10.008, "a") == [] and sync.num_waiting == 1  # 10.01 may yet come, and be nearer
    assert settled(sync.add_joint_state(10.01, np.ones(3))) == [("a", 10.01)]
    assert settled(sync.add_frame(10.003, "b")) == [("b", 10.00)]  # its joint states are in: settled at once


def test_a_frame_whose_joint_states_do_not_come_is_stale_once_the_keypoints_move_on():
    sync = FrameSync(max_offset_s=0.05, max_wait_s=0.05)
    assert sync.add_frame(9.9, "early") == []
    assert settled(sync.add_frame(10.0, "first")) == [("early", "no joint states")]
    assert settled(sync.add_joint_state(10.0, np.zeros(3))) == [("first", 10.0)]
    assert sync.add_frame(10.2, "a") == []  # the joint states stop here
    assert sync.add_frame(10.24, "b") == []                                  # 0.04 s on: a joint state may come
    assert settled(sync.add_frame(10.3, "c")) == [("a", "stale joint states"), ("b", "stale joint states")]


def test_frames_older_than_the_joint_states_or_in_a_gap_are_settled_unpaired():
    sync = FrameSync(max_offset_s=0.02, max_wait_s=0.5)
    for stamp_s in (8.6, 10.0, 10.1, 10.2):
        sync.add_joint_state(stamp_s, np.zeros(3))
    assert settled(sync.add_frame(8.5, "old")) == [("old", "keypoints older than the joint states")]
    assert settled(sync.add_frame(10.15, "gap")) == [("gap", "gap in the joint states")]


def test_a_negative_stamp_is_refused():
    sync = FrameSync(max_offset_s=0.05, max_wait_s=0.1)
    for add in (lambda: sync.add_joint_state(-1.0, np.zeros(3)), lambda: sync.add_frame(-0.5, "a")):
        with pytest.raises(RejectedStamp) as raised:
            add()
        assert raised.value.reason == "negative stamp"
    assert len(sync.joint_states) == 0 and sync.num_waiting == 0


@pytest.mark.parametrize("input_name", ["joint state", "frame"])
def test_one_message_stamped_an_hour_ahead_is_refused_and_pairing_goes_on(input_name):
    """Taken, an hour-ahead joint state would push every real one out of the history, and an
    hour-ahead frame would block the queue: no frame would be paired again."""
    sync = FrameSync(max_offset_s=0.05, max_wait_s=0.1)
    sync.add_joint_state(10.0, np.zeros(3))
    with pytest.raises(RejectedStamp) as raised:
        if input_name == "joint state":
            sync.add_joint_state(10.0 + 3600, np.ones(3))
        else:
            sync.add_frame(10.0 + 3600, "from the future")
    assert raised.value.reason == "stamp jump"
    paired = []
    for stamp_s in np.arange(10.01, 10.3, 0.01):
        paired += settled(sync.add_joint_state(stamp_s, np.zeros(3)) + sync.add_frame(stamp_s, "now"))
    assert len(paired) >= 25 and all(isinstance(p[1], float) for p in paired), paired


def test_when_the_clock_itself_jumps_the_sync_follows_it():
    sync = FrameSync(max_offset_s=0.05, max_wait_s=0.5)
    sync.add_joint_state(1000.0, np.zeros(3))
    sync.add_frame(1000.01, "waiting")  # its joint states will never come
    for i in range(JUMP_CONFIRMATIONS - 1):  # a sim restarted at 0 s
        with pytest.raises(RejectedStamp):
            sync.add_joint_state(0.01 * i, np.zeros(3))
    assert settled(sync.add_joint_state(0.04, np.ones(3))) == [("waiting", "stamps jumped")]
    assert settled(sync.add_frame(0.04, "after")) == [("after", pytest.approx(0.04))]
