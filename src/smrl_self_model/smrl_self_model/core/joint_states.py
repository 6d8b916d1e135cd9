"""Joint states for the self model: the arm joints picked out of a message, and the one recorded
nearest in time to a camera frame.

The self model pairs every keypoint frame with the joint state of the same instant. Joint states
come faster (100 Hz in the sim) and on their own topic, so the pairing is by stamp: the buffered
joint state nearest to the keypoints' stamp, if one lies within `max_offset_s`. Otherwise the frame
is not used and `NoJointStateNear` says why (none, stale, all newer, or a gap): stale or
unsynchronised inputs are reported, never guessed over (no extrapolation from old states).

The joint states of a frame's instant may still be on their way when its keypoints arrive (they
wait in another queue), so `FrameSync` holds a frame until a joint state stamped at or after it has
come, and only then picks the nearest; a frame whose joint states have not come by the time the
keypoints are `max_wait_s` further on is stale.

One bad stamp must not stop the pairing for good: a joint state stamped an hour ahead would push
every real one out of the history, and a frame stamped ahead would wait forever at the head of the
queue. So `FrameSync` refuses stamps before 0 or more than `max_stamp_jump_s` away from the newest
stamp it took (`RejectedStamp`). When `JUMP_CONFIRMATIONS` messages in a row agree on a time that
far away, the clock itself has jumped (a restarted sim, a looped bag): the sync starts over there.
"""
from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from smrl_common.core.joint_names import duplicate_names

JUMP_CONFIRMATIONS = 5  # messages in a row on a far-away time that make the sync follow it


class MalformedJointState(ValueError):
    """A joint state the self model cannot use; `reason` is short and fit to count by."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def arm_joint_positions(names: Sequence[str], positions: Sequence[float], joint_names: Sequence[str]) -> np.ndarray:
    """The positions (n,) of `joint_names`, in that order, from a joint state's names and positions.

    The message may carry more joints (a gripper) in any order; it must name every joint once,
    with as many positions as names, and the wanted ones finite.
    """
    if len(names) != len(positions):
        raise MalformedJointState("joint count mismatch", f"{len(names)} names but {len(positions)} positions")
    duplicates = duplicate_names(names)
    if duplicates:
        raise MalformedJointState("duplicate joint names", f"{duplicates} more than once in {list(names)}")
    index = {name: i for i, name in enumerate(names)}
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise MalformedJointState("unknown joint names", f"no {missing} among {list(names)} "
                                                         f"(the joints wanted: {list(joint_names)})")
    arm = np.array([positions[index[name]] for name in joint_names], dtype=np.float64)
    if not np.isfinite(arm).all():
        raise MalformedJointState("non-finite positions", f"{dict(zip(joint_names, arm.tolist()))}")
    return arm


class NoJointStateNear(LookupError):
    """No buffered joint state within the allowed offset of a stamp; `reason` says which case."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class RejectedStamp(ValueError):
    """A stamp the sync refuses (before 0, or a jump away from the others); `reason` to count by."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class JointStateMatch:
    positions_rad: np.ndarray  # (n,)
    stamp_s: float
    age_s: float               # the frame's stamp minus the joint state's: > 0 when the joint state is older


class JointStateBuffer:
    """The joint states of the last `history_s` seconds (by stamp), kept sorted by stamp."""

    def __init__(self, history_s: float = 1.0) -> None:
        if history_s <= 0:
            raise ValueError(f"history_s must be > 0, got {history_s}")
        self.history_s = history_s
        self._stamps: list[float] = []
        self._positions: list[np.ndarray] = []
        self._forgot_any = False  # False: the oldest kept is the first joint state received

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def newest_stamp_s(self) -> float | None:
        return self._stamps[-1] if self._stamps else None

    def add(self, stamp_s: float, positions_rad: np.ndarray) -> None:
        """Insert one joint state (late arrivals go to their place) and forget those too old."""
        i = bisect.bisect_right(self._stamps, stamp_s)
        self._stamps.insert(i, stamp_s)
        self._positions.insert(i, np.asarray(positions_rad, dtype=np.float64))
        first_kept = bisect.bisect_left(self._stamps, self._stamps[-1] - self.history_s)
        self._forgot_any |= first_kept > 0
        del self._stamps[:first_kept], self._positions[:first_kept]

    def nearest(self, stamp_s: float, max_offset_s: float) -> JointStateMatch:
        """The joint state nearest in time to `stamp_s`; `NoJointStateNear` if none is within max_offset_s."""
        if not self._stamps:
            raise NoJointStateNear("no joint states", "none received yet")
        i = bisect.bisect_left(self._stamps, stamp_s)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self._stamps)]
        best = min(candidates, key=lambda j: abs(self._stamps[j] - stamp_s))
        age_s = stamp_s - self._stamps[best]
        if abs(age_s) <= max_offset_s:
            return JointStateMatch(self._positions[best], self._stamps[best], age_s)
        newest, oldest = self._stamps[-1], self._stamps[0]
        if stamp_s > newest:
            raise NoJointStateNear("stale joint states", f"the newest is {stamp_s - newest:.3f} s older than the "
                                                         f"keypoints (max {max_offset_s} s)")
        if stamp_s < oldest and not self._forgot_any:  # at start-up: the camera began before the joint states came
            raise NoJointStateNear("keypoints before the first joint state",
                                   f"the keypoints are {oldest - stamp_s:.3f} s older than the first joint state")
        if stamp_s < oldest:
            raise NoJointStateNear("keypoints older than the joint states",
                                   f"the keypoints are {oldest - stamp_s:.3f} s older than the oldest joint state "
                                   f"kept ({self.history_s} s history)")
        raise NoJointStateNear("gap in the joint states",
                               f"the nearest is {abs(age_s):.3f} s away (max {max_offset_s} s)")


Frame = TypeVar("Frame")


@dataclass(frozen=True)
class Pairing(Generic[Frame]):
    """A frame and its joint state, or why it has none (exactly one of the two is set)."""
    frame: Frame
    stamp_s: float
    joint_state: JointStateMatch | None
    unpaired: NoJointStateNear | None


class FrameSync(Generic[Frame]):
    """Pairs frames with the joint state nearest in time, once the joint states have caught up."""

    def __init__(self, max_offset_s: float, max_wait_s: float, history_s: float = 1.0,
                 max_stamp_jump_s: float = 2.0) -> None:
        """`max_offset_s`: the most a paired joint state's stamp may differ from the frame's;
        `max_wait_s`: how far the keypoints may move on (by stamp) while a frame waits;
        `max_stamp_jump_s`: the furthest a stamp may lie from the newest one taken (either input)."""
        if min(max_offset_s, max_wait_s, max_stamp_jump_s) <= 0:
            raise ValueError(f"max_offset_s, max_wait_s and max_stamp_jump_s must be > 0, got {max_offset_s}, "
                             f"{max_wait_s} and {max_stamp_jump_s}")
        self.max_offset_s = max_offset_s
        self.max_wait_s = max_wait_s
        self.max_stamp_jump_s = max_stamp_jump_s
        self.joint_states = JointStateBuffer(history_s)
        self._waiting: deque[tuple[float, Frame]] = deque()  # (stamp, frame), in arrival order
        self._newest_frame_s = -float("inf")
        self._newest_s: float | None = None          # newest stamp taken, joint state or frame
        self._jump_s: float | None = None            # newest of the refused far-away stamps in a row
        self._jump_count = 0

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    def add_joint_state(self, stamp_s: float, positions_rad: np.ndarray) -> list[Pairing[Frame]]:
        """Buffer a joint state; returns the waiting frames it settles, oldest first.
        Raises RejectedStamp for a stamp before 0 or far from the others."""
        given_up = self._take_stamp(stamp_s)
        self.joint_states.add(stamp_s, positions_rad)
        return given_up + self._settle()

    def add_frame(self, stamp_s: float, frame: Frame) -> list[Pairing[Frame]]:
        """Queue a frame; returns the frames now settled (it, if its joint states are in), oldest first.
        Raises RejectedStamp for a stamp before 0 or far from the others."""
        given_up = self._take_stamp(stamp_s)
        self._waiting.append((stamp_s, frame))
        self._newest_frame_s = max(self._newest_frame_s, stamp_s)
        return given_up + self._settle()

    def _take_stamp(self, stamp_s: float) -> list[Pairing[Frame]]:
        """Refuse an implausible stamp; returns the frames given up when the clock itself jumped."""
        if stamp_s < 0:
            raise RejectedStamp("negative stamp", f"stamped {stamp_s:.3f} s")
        if self._newest_s is None or abs(stamp_s - self._newest_s) <= self.max_stamp_jump_s:
            self._newest_s = stamp_s if self._newest_s is None else max(self._newest_s, stamp_s)
            self._jump_s, self._jump_count = None, 0
            return []
        if self._jump_s is not None and abs(stamp_s - self._jump_s) <= self.max_stamp_jump_s:
            self._jump_s, self._jump_count = max(self._jump_s, stamp_s), self._jump_count + 1
        else:
            self._jump_s, self._jump_count = stamp_s, 1
        if self._jump_count < JUMP_CONFIRMATIONS:
            raise RejectedStamp("stamp jump", f"stamped {stamp_s - self._newest_s:+.3f} s from the newest stamp "
                                              f"(max {self.max_stamp_jump_s} s)")
        given_up = [Pairing(frame, waiting_s, None, NoJointStateNear(
            "stamps jumped", f"the clock jumped {stamp_s - self._newest_s:+.3f} s while the frame waited"))
            for waiting_s, frame in self._waiting]
        self.joint_states = JointStateBuffer(self.joint_states.history_s)
        self._waiting.clear()
        self._newest_frame_s = -float("inf")
        self._newest_s, self._jump_s, self._jump_count = self._jump_s, None, 0
        return given_up

    def _settle(self) -> list[Pairing[Frame]]:
        settled = []
        newest_joint_s = self.joint_states.newest_stamp_s
        while self._waiting:
            stamp_s, frame = self._waiting[0]
            if newest_joint_s is not None and newest_joint_s >= stamp_s:
                try:
                    settled.append(Pairing(frame, stamp_s, self.joint_states.nearest(stamp_s, self.max_offset_s), None))
                except NoJointStateNear as error:
                    settled.append(Pairing(frame, stamp_s, None, error))
            elif self._newest_frame_s - stamp_s > self.max_wait_s:
                settled.append(Pairing(frame, stamp_s, None, self._stale(stamp_s, newest_joint_s)))
            else:
                break
            self._waiting.popleft()
        return settled

    def _stale(self, stamp_s: float, newest_joint_s: float | None) -> NoJointStateNear:
        moved_on = f"the keypoints are {self._newest_frame_s - stamp_s:.3f} s further on"
        if newest_joint_s is None:
            return NoJointStateNear("no joint states", f"none received, and {moved_on}")
        return NoJointStateNear("stale joint states", f"the newest is {stamp_s - newest_joint_s:.3f} s older than "
                                                      f"the keypoints, and {moved_on} (max wait {self.max_wait_s} s)")
