"""A policy's action made into joint commands an arm may safely follow: what the policy node sends.

ROS-free: the policy node calls it once per control tick; tests and evaluation can call it alone.

    action (n + 1,) in [-1, 1]  +  measured arm (n,) [+ gripper (g,)]  ->  JointTargets: arm (n,), gripper (g,)

1. The action must be n + 1 finite values (else `ActionRejected`, counted by reason, and the node
   holds); values are clipped to [-1, 1].
2. Arm (the env's `joint_delta` action): desired = measured + a[:n] * max_joint_delta_rad, clamped
   to the position limits, then stepped from the reference by at most velocity_limit * dt per
   joint, then clamped to the position limits again. The bound holds at the peak, for every
   command, not on average. The reference is the previous command, or the measured position for
   the first command, the first after a hold, and when the arm is further from the previous command
   than the velocity limit covers in `REFERENCE_LAG_S` on some joint (it was moved: an episode
   reset teleports the simulated arm home; or it is blocked): stepping on from the old command
   would first command the arm back towards where it was. dt is the time since the previous command, at
   most one control period (a late tick does not make up for lost time); from the measured
   position it is one period.
3. Gripper: a[n] > 0 opens, <= 0 closes (the robot config's open / closed positions); the fingers
   step from their reference the same way (from the measured fingers, when joint states carry them).
4. Hold: while an input is stale, or the policy gives no usable action, the command is the measured
   position of the moment the hold began, repeated each tick (it does not follow a sagging arm).

Joint limits are `smrl_common.core.joint_command_guard.JointLimits` (from the robot config: the
same limits the sim and the replay driver check commands against).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from smrl_common.core.joint_command_guard import JointLimits

#: An arm further from the previous command than the velocity limit covers in this time (on any
#: joint) is not following it: the next command steps from the measured position instead. The
#: policy node's default staleness bound: a following arm lags its command by about one control
#: period, and joint states this old make the node hold anyway.
REFERENCE_LAG_S = 0.25


class ActionRejected(ValueError):
    """An action that must not be applied; `reason` is short and fit to count by."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class JointTargets:
    arm: np.ndarray               # (n,) rad, in the robot config's joint order
    gripper: np.ndarray | None    # (g,) m or rad; None: nothing to command the gripper with
    held: bool                    # True: a hold (the measured position), not the policy's


class CommandSafety:
    """Turns actions into joint targets within position and velocity limits; holds on demand.

    Counters: `commands` (policy commands made), `holds` (reason -> ticks held),
    `rejected_actions` (reason -> actions refused), `peak_speed_ratio` (the largest per-joint
    step of any policy command over velocity_limit * the time since the command before; <= 1).
    """

    def __init__(self, arm_limits: JointLimits, gripper_limits: JointLimits, gripper_open: np.ndarray,
                 gripper_closed: np.ndarray, max_joint_delta_rad: float, control_period_s: float) -> None:
        if not max_joint_delta_rad > 0 or not control_period_s > 0:
            raise ValueError(f"max_joint_delta_rad ({max_joint_delta_rad}) and control_period_s "
                             f"({control_period_s}) must be positive")
        self.arm_limits = arm_limits
        self.gripper_limits = gripper_limits
        self.gripper_open = gripper_limits.clamp(np.asarray(gripper_open, dtype=float))
        self.gripper_closed = gripper_limits.clamp(np.asarray(gripper_closed, dtype=float))
        self.max_joint_delta_rad = float(max_joint_delta_rad)
        self.control_period_s = float(control_period_s)
        self.commands = 0
        self.holds: Counter[str] = Counter()
        self.rejected_actions: Counter[str] = Counter()
        self.peak_speed_ratio = 0.0
        self._last: JointTargets | None = None   # the previous policy command
        self._last_time_s = -np.inf
        self._hold: JointTargets | None = None   # the hold in force, if any

    @property
    def num_joints(self) -> int:
        return len(self.arm_limits.names)

    @property
    def action_size(self) -> int:
        return self.num_joints + 1

    def check_action(self, action) -> np.ndarray:
        """The action as (n + 1,) float64 clipped to [-1, 1]; ActionRejected (counted) if unusable."""
        try:
            values = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as error:
            raise self._reject("not numbers", f"{error}") from None
        if values.shape != (self.action_size,):
            raise self._reject("wrong action size", f"expected {self.action_size} values "
                                                    f"({self.num_joints} joints + gripper), got {values.size}")
        if not np.isfinite(values).all():
            raise self._reject("non-finite action", f"{values.tolist()}")
        return np.clip(values, -1.0, 1.0)

    def _reject(self, reason: str, detail: str) -> ActionRejected:
        self.rejected_actions[reason] += 1
        return ActionRejected(reason, detail)

    def command(self, action, measured_arm: np.ndarray, measured_gripper: np.ndarray | None,
                now_s: float) -> JointTargets:
        """The targets for `action` from the measured joints at time `now_s` (s, any monotonic clock)."""
        action = self.check_action(action)
        measured_arm = np.asarray(measured_arm, dtype=np.float64)
        elapsed_s = max(now_s - self._last_time_s, 0.0)
        continuing = self._last is not None and self._hold is None and bool(np.all(
            np.abs(self._last.arm - measured_arm) <= REFERENCE_LAG_S * self.arm_limits.velocity))
        dt_s = min(elapsed_s, self.control_period_s) if continuing else self.control_period_s
        arm_reference = self._last.arm if continuing else measured_arm
        desired_arm = self.arm_limits.clamp(measured_arm + action[:-1] * self.max_joint_delta_rad)
        arm = self.arm_limits.clamp(self.arm_limits.limit_step(arm_reference, desired_arm, dt_s))

        desired_gripper = self.gripper_open if action[-1] > 0 else self.gripper_closed
        if continuing and self._last.gripper is not None:
            gripper_reference = self._last.gripper
        elif measured_gripper is not None:
            gripper_reference = np.asarray(measured_gripper, dtype=np.float64)
        else:
            gripper_reference = None
        gripper = desired_gripper if gripper_reference is None else \
            self.gripper_limits.clamp(self.gripper_limits.limit_step(gripper_reference, desired_gripper, dt_s))

        speed_dt_s = elapsed_s if continuing else self.control_period_s
        step = np.abs(arm - arm_reference)
        if speed_dt_s > 0:
            ratio = step / (self.arm_limits.velocity * speed_dt_s)
            self.peak_speed_ratio = max(self.peak_speed_ratio, float(ratio.max(initial=0.0)))
        self.commands += 1
        self._last, self._last_time_s, self._hold = JointTargets(arm, gripper, held=False), now_s, None
        return self._last

    def hold(self, measured_arm: np.ndarray, measured_gripper: np.ndarray | None, reason: str) -> JointTargets:
        """Hold: the measured position when the hold began (the same targets each tick it lasts)."""
        self.holds[reason] += 1
        if self._hold is None:
            gripper = measured_gripper if measured_gripper is not None else \
                (self._last.gripper if self._last is not None else None)
            self._hold = JointTargets(np.array(measured_arm, dtype=np.float64),
                                      None if gripper is None else np.array(gripper, dtype=np.float64), held=True)
        return self._hold

    @property
    def holding(self) -> bool:
        return self._hold is not None


def stale_input(now_s: float, state_stamp_s: float | None, joint_state_received_s: float | None,
                stale_after_s: float) -> str | None:
    """Why the inputs are too old to act on (a reason to count holds by), or None when both are fresh.

    The self-model state's age counts from its stamp (the camera image's), so a state about an old
    image is stale however recently it arrived; joint states' from when they were received.
    """
    if state_stamp_s is None:
        return "no self-model state yet"
    if joint_state_received_s is None:
        return "no joint states yet"
    if now_s - state_stamp_s > stale_after_s:
        return "stale self-model state"
    if now_s - joint_state_received_s > stale_after_s:
        return "stale joint states"
    return None
