"""run_node's exit: a signal while spinning lets the running callback finish, destroys the node and
exits 0; a signal while the node is still starting ends it at once; errors in callbacks are not hidden.
Under both executors the nodes use: the events executor (the default) and the single-threaded one."""
import signal
import subprocess
import sys
import time

import pytest

NODE = '''
import os, signal, sys, time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from smrl_common.node_runner import run_node

class Node_(Node):
    def __init__(self):
        super().__init__("runner_test")
        print("constructing", flush=True)
        if sys.argv[1] == "slow start":
            time.sleep(30.0)  # a model that takes long to load
        self.create_timer(0.05, self.tick)

    def tick(self):
        if sys.argv[1] == "error":
            raise RuntimeError("a real error in a callback")
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))  # the signal lands inside this callback ...
        time.sleep(0.2)
        print("callback finished", flush=True)              # ... which still runs to its end

    def destroy_node(self):
        print("destroyed", flush=True)
        super().destroy_node()

if sys.argv[2] == "events":
    run_node(Node_, ["--ros-args", "--log-level", "error"])
else:
    run_node(Node_, ["--ros-args", "--log-level", "error"], executor_class=SingleThreadedExecutor)
'''
EXECUTORS = pytest.mark.parametrize("executor", ["events", "single-threaded"])


def start(case: str, executor: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", NODE, case, executor], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@EXECUTORS
def test_a_signal_inside_a_callback_lets_it_finish_then_destroys_the_node_and_exits_0(executor):
    for name in ("SIGINT", "SIGTERM"):
        process = start(name, executor)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.splitlines() == ["constructing", "callback finished", "destroyed"], (name, out, err)


@EXECUTORS
def test_a_signal_while_the_node_is_still_starting_ends_it_at_once(executor):
    process = start("slow start", executor)
    assert process.stdout.readline() == "constructing\n"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0, process.stderr.read()
    assert time.monotonic() - sent < 5.0


@EXECUTORS
def test_an_error_in_a_callback_is_not_hidden(executor):
    process = start("error", executor)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "a real error in a callback" in err
    assert "destroyed" in out  # the node is still cleaned up
