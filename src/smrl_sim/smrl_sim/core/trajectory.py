"""Following a joint trajectory (JointTrajectory semantics) by linear interpolation between points.

Kept ROS-free: the node converts messages into `(names, times_s, positions)` and asks this for the
joint targets at each control tick, as joint_trajectory_controller would.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from smrl_sim.core.joint_command_guard import CommandRejected, JointCommandGuard


class TrajectoryFollower:
    def __init__(self, guard: JointCommandGuard) -> None:
        self.guard = guard
        self._times_s: np.ndarray | None = None
        self._points: np.ndarray | None = None     # (P, n) in the guard's joint order
        self._start_s = 0.0
        self._start_positions: np.ndarray | None = None

    @property
    def active(self) -> bool:
        return self._points is not None

    def cancel(self) -> None:
        self._times_s = self._points = self._start_positions = None

    def start(self, names: Sequence[str], times_s: Sequence[float], positions: Sequence[Sequence[float]],
              now_s: float, current_positions: np.ndarray) -> None:
        """Validate the whole trajectory first; a bad point rejects it all (nothing half-applied)."""
        if len(positions) == 0:
            raise self.guard._reject("empty_trajectory", "trajectory has no points")
        times = np.asarray(times_s, dtype=float)
        if not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(np.diff(times) <= 0):
            self.guard.rejections["bad_time"] += 1
            raise CommandRejected(f"bad_time: time_from_start must be finite, >= 0 and increasing, got {times.tolist()}")
        points = np.array([self.guard.positions(p, names) for p in positions])
        self.guard.accepted -= len(points) - 1  # one trajectory counts as one accepted command
        self._times_s, self._points = times, points
        self._start_s = now_s
        self._start_positions = np.asarray(current_positions, dtype=float)

    def targets(self, now_s: float) -> np.ndarray | None:
        """Joint targets at `now_s`, interpolated from the current positions to the first point."""
        if self._points is None:
            return None
        elapsed = now_s - self._start_s
        times = np.concatenate([[0.0], self._times_s])
        points = np.vstack([self._start_positions, self._points])
        if elapsed >= times[-1]:
            return points[-1]
        i = int(np.searchsorted(times, elapsed, side="right")) - 1
        fraction = (elapsed - times[i]) / max(times[i + 1] - times[i], 1e-9)
        return points[i] + fraction * (points[i + 1] - points[i])
