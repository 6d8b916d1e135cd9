"""`main()` of every SMRL node: spin one node until Ctrl-C or SIGTERM, then destroy it and exit 0.

The ros2/demos way, but with rclpy's own signal handlers off: on a signal they shut the context
down from a thread of their own while Python's KeyboardInterrupt unwinds the main thread, a race
at exit, the likely cause of a node that had logged its final counts and then hung in rclpy's
shutdown until killed (seen once in ~45 graph shutdowns under load). Here a signal during spinning
only asks the spin loop to stop: the callback running finishes, the node is destroyed and the
context shut down, all on the main thread, so no KeyboardInterrupt lands inside rclpy's C++ code
either. Before the spin (imports, model loading) a signal ends the program at once.

The executor is rclpy's events executor (`rclpy.experimental.EventsExecutor`, C++): on this
2-core machine it takes 0.48 ms of CPU per message received where the SingleThreadedExecutor, which
rebuilds its wait set in Python for every wake-up, takes 0.95 ms (a 100 Hz JointState pair
alone); with six nodes on two cores that was a quarter of the camera -> command latency. A node whose
callbacks take a `MessageInfo` passes `executor_class=SingleThreadedExecutor`: Kilted's events
executor cannot deliver one ("SystemError: null argument to internal routine").
"""
from __future__ import annotations

import signal
from typing import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

#: Longest wait for work before the spin loop looks at the stop request again (s).
STOP_CHECK_PERIOD_S = 0.1


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             model_errors: tuple[type[Exception], ...] = (), model_name: str = "",
             executor_class: Callable[[], Executor] = EventsExecutor) -> None:
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
            executor = executor_class()
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
