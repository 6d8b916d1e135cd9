"""`main()` of every SMRL node: spin one node until Ctrl-C or SIGTERM, then destroy it and exit 0.

The ros2/demos way, but with rclpy's own signal handlers off: on a signal they shut the context
down from a thread of their own while Python's KeyboardInterrupt unwinds the main thread, a race
at exit, the likely cause of a node that had logged its final counts and then hung in rclpy's
shutdown until killed (seen once in ~45 graph shutdowns under load). Here a signal during spinning
only asks the spin loop to stop: the callback running finishes, the node is destroyed and the
context shut down, all on the main thread, so no KeyboardInterrupt lands inside rclpy's C++ code
either. Before the spin (imports, model loading) a signal ends the program at once.
"""
from __future__ import annotations

import signal
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

#: Longest wait for work before the spin loop looks at the stop request again (s).
STOP_CHECK_PERIOD_S = 0.1


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             model_errors: tuple[type[Exception], ...] = (), model_name: str = "") -> None:
    """`model_errors`: what the node raises when its model file cannot be loaded (missing, corrupt,
    wrong format); they end the program with one line naming `model_name` and the file, not a
    traceback, e.g. "keypoint_node: cannot open the keypoint model: <file>: <why>"."""
    program = make_node.__module__.rpartition(".")[2]
    spinning = False
    stop_requested: list[int] = []

    def on_signal(signum, _frame) -> None:
        if not spinning:
            raise KeyboardInterrupt  # still starting: nothing to finish
        stop_requested.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            node = make_node()
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            try:
                spinning = True
                while not stop_requested and rclpy.ok():
                    executor.spin_once(timeout_sec=STOP_CHECK_PERIOD_S)
            finally:
                spinning = False
                executor.shutdown()
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except model_errors as error:
        raise SystemExit(f"{program}: cannot open {model_name}: {error}") from None
