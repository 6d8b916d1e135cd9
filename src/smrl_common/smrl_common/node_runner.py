"""`main()` of every SMRL node: spin one node until Ctrl-C or SIGTERM, the ros2/demos way."""
from __future__ import annotations

from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             model_errors: tuple[type[Exception], ...] = (), model_name: str = "") -> None:
    """`model_errors`: what the node raises when its model file cannot be loaded (missing, corrupt,
    wrong format); they end the program with one line naming `model_name` and the file, not a
    traceback, e.g. "keypoint_node: cannot open the keypoint model: <file>: <why>"."""
    program = make_node.__module__.rpartition(".")[2]
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
    except model_errors as error:
        raise SystemExit(f"{program}: cannot open {model_name}: {error}") from None
