"""`main()` of every SMRL node: spin one node until Ctrl-C or SIGTERM, the ros2/demos way."""
from __future__ import annotations

import signal
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
    interrupted = []

    def on_sigint(signum, frame) -> None:
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as without this handler

    signal.signal(signal.SIGINT, on_sigint)
    try:
        with rclpy.init(args=args):  # rclpy's handler chains to the one above
            node = make_node()
            try:
                rclpy.spin(node)
            except RuntimeError:
                # Ctrl-C may land inside rclpy's C++ code: then rclpy raises RCLError from a callback
                # publishing while the context shuts down, or pybind11 turns the KeyboardInterrupt
                # into "Unable to convert call argument" (seen taking a message). Both are a normal
                # exit; any other error, or one while still running, is not.
                if rclpy.ok() and not interrupted:
                    raise
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except model_errors as error:
        raise SystemExit(f"{program}: cannot open {model_name}: {error}") from None
