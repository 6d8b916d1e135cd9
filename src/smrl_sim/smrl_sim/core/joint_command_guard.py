"""Moved to `smrl_common.core.joint_command_guard` (nodes that command joints need it without PyBullet).

Only re-exported here so that code written against the old path keeps importing; import from
smrl_common in new code.
"""
from smrl_common.core.joint_command_guard import CommandRejected, JointCommandGuard, JointLimits

__all__ = ["CommandRejected", "JointCommandGuard", "JointLimits"]
