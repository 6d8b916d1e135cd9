"""`main()` of every SMRL node: spin one node until Ctrl-C or SIGTERM, the ros2/demos way."""
from __future__ import annotations

from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> None:
    try:
        with rclpy.init(args=args):
            node = make_node()
            try:
                rclpy.spin(node)
            except RuntimeError:
                # rclpy's RCLError from a callback publishing while a signal shuts the context
                # down is a normal exit; any other error, or one while still running, is not.
                if rclpy.ok():
                    raise
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
