"""Joint commands are checked and limited here before anything moves (sim or real arm).

Every path that sets joint targets (the sim node, the env, the policy node) goes through this one
implementation, so a malformed or unsafe command is handled the same way everywhere.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from smrl_common.core.joint_names import duplicate_names


class CommandRejected(ValueError):
    """A joint command that must not be applied; the message says why."""


@dataclass(frozen=True)
class JointLimits:
    names: tuple[str, ...]
    lower: np.ndarray       # rad (revolute) or m (prismatic)
    upper: np.ndarray
    velocity: np.ndarray    # rad/s or m/s, positive

    def clamp(self, positions: np.ndarray) -> np.ndarray:
        return np.clip(positions, self.lower, self.upper)

    def limit_step(self, current: np.ndarray, target: np.ndarray, dt_s: float) -> np.ndarray:
        """The furthest point towards `target` reachable from `current` in `dt_s` at velocity limits."""
        max_step = self.velocity * dt_s
        return current + np.clip(target - current, -max_step, max_step)


class JointCommandGuard:
    """Validates joint commands (length, names, finiteness) and clamps them to the limits.

    Rejections are counted by reason so nodes can report them; nothing rejected is ever applied.
    """

    def __init__(self, limits: JointLimits) -> None:
        self.limits = limits
        self.rejections: Counter[str] = Counter()
        self.accepted = 0

    def _reject(self, reason: str, detail: str) -> CommandRejected:
        self.rejections[reason] += 1
        return CommandRejected(f"{reason}: {detail}")

    def positions(self, values: Sequence[float], names: Sequence[str] | None = None) -> np.ndarray:
        """Command values in the limits' joint order, clamped to position limits.

        `names` (optional) give the joint of each value, as in JointTrajectory; without them the
        values must come in the limits' order, as in a forward_command_controller command.
        Raises CommandRejected for a wrong length, unknown/duplicate/missing names or NaN/inf.
        """
        values = np.asarray(values, dtype=float).reshape(-1)
        expected = len(self.limits.names)
        if names:
            names = list(names)
            if len(names) != len(values):
                raise self._reject("length_mismatch", f"{len(names)} joint names but {len(values)} values")
            unknown = sorted(set(names) - set(self.limits.names))
            if unknown:
                raise self._reject("unknown_joint", f"unknown joint names {unknown}")
            duplicates = duplicate_names(names)
            if duplicates:
                raise self._reject("duplicate_joint", f"joint names {duplicates} more than once in {names}")
            missing = sorted(set(self.limits.names) - set(names))
            if missing:
                raise self._reject("missing_joint", f"no value for joints {missing}")
            order = {name: i for i, name in enumerate(names)}
            values = values[[order[name] for name in self.limits.names]]
        elif len(values) != expected:
            raise self._reject("wrong_length", f"expected {expected} values, got {len(values)}")
        if not np.all(np.isfinite(values)):
            raise self._reject("not_finite", f"NaN or inf in {values.tolist()}")
        self.accepted += 1
        return self.limits.clamp(values)
