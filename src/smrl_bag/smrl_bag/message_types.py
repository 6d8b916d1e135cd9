"""rclpy message classes by type name, as the ROS graph and bags name them ("sensor_msgs/msg/Image").

rosidl_runtime_py, which does this in a full ROS install, has no wheel on PyPI.
"""
from __future__ import annotations

import importlib


def message_class(msgtype: str) -> type:
    """The rclpy class of "pkg/msg/Name"; ImportError, AttributeError or ValueError if there is none."""
    package, interface, name = msgtype.split("/")
    if interface != "msg":
        raise ValueError(f"{msgtype} is not a message type")
    return getattr(importlib.import_module(f"{package}.msg"), name)
