"""Following a joint trajectory (JointTrajectory semantics) by linear interpolation between points.

Kept ROS-free: the node converts messages into `(names, times_s, positions)`, has them checked by
`plan` (outside the lock the physics loop takes: checking costs ~10 us a point), hands the result
to `start`, and asks for the joint targets at each physics step, as joint_trajectory_controller
would. A trajectory of more than `max_points` points is rejected before any point is checked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from smrl_common.core.joint_command_guard import JointCommandGuard


@dataclass(frozen=True)
class Trajectory:
    """A checked trajectory: times from its start (s, increasing) and the positions reached then."""
    times_s: np.ndarray   # (P,)
    points: np.ndarray    # (P, n) in the guard's joint order, clamped to the position limits


class TrajectoryFollower:
    def __init__(self, guard: JointCommandGuard, max_points: int = 2000) -> None:
        if max_points < 1:
            raise ValueError(f"max_points must be >= 1, got {max_points}")
        self.guard = guard
        self.max_points = max_points
        self._times_s: np.ndarray | None = None   # (P + 1,): 0, then the trajectory's
        self._points: np.ndarray | None = None    # (P + 1, n): the positions at start, then the trajectory's
        self._start_s = 0.0

    @property
    def active(self) -> bool:
        return self._points is not None

    def cancel(self) -> None:
        self._times_s = self._points = None

    def plan(self, names: Sequence[str], times_s: Sequence[float], positions: Sequence[Sequence[float]]) -> Trajectory:
        """Check the whole trajectory first; a bad point rejects it all (nothing half-applied)."""
        if len(positions) == 0:
            raise self.guard._reject("empty_trajectory", "trajectory has no points")
        if len(positions) > self.max_points:
            raise self.guard._reject("too_many_points", f"{len(positions)} points; at most {self.max_points} "
                                                        "(checking each costs time)")
        times = np.asarray(times_s, dtype=float)
        if not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(np.diff(times) <= 0):
            raise self.guard._reject("bad_time", f"time_from_start must be finite, >= 0 and increasing, "
                                                 f"got {times.tolist()[:10]}{' ...' if len(times) > 10 else ''}")
        if len(times) != len(positions):
            raise self.guard._reject("length_mismatch", f"{len(times)} times but {len(positions)} points")
        points = np.array([self.guard.positions(p, names) for p in positions])
        self.guard.accepted -= len(points) - 1  # one trajectory counts as one accepted command
        return Trajectory(times, points)

    def start(self, trajectory: Trajectory, now_s: float, current_positions: np.ndarray) -> None:
        """Follow `trajectory` from `now_s`, starting from the current positions."""
        self._times_s = np.concatenate([[0.0], trajectory.times_s])
        self._points = np.vstack([np.asarray(current_positions, dtype=float), trajectory.points])
        self._start_s = now_s

    def targets(self, now_s: float) -> np.ndarray | None:
        """Joint targets at `now_s`, interpolated from the current positions to the first point."""
        if self._points is None:
            return None
        elapsed = now_s - self._start_s
        times, points = self._times_s, self._points
        if elapsed >= times[-1]:
            return points[-1]
        i = int(np.searchsorted(times, elapsed, side="right")) - 1
        fraction = (elapsed - times[i]) / max(times[i + 1] - times[i], 1e-9)
        return points[i] + fraction * (points[i + 1] - points[i])
