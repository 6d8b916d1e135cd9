"""run_node's exit: Ctrl-C is a normal end even when it lands inside rclpy's C++ code; other errors are not."""
import subprocess
import sys

NODE = '''
import os, signal, sys, time
from rclpy.node import Node
from smrl_common.node_runner import run_node

class Node_(Node):
    def __init__(self):
        super().__init__("runner_test")
        self.create_timer(0.05, self.tick)

    def tick(self):
        if sys.argv[1] == "interrupted":
            try:  # as pybind11 does when a KeyboardInterrupt comes while it converts an argument
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)
            except KeyboardInterrupt:
                raise RuntimeError("Unable to convert call argument '0' to Python object") from None
        raise RuntimeError("a real error in a callback")

run_node(Node_, ["--ros-args", "--log-level", "error"])
'''


def run(case: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NODE, case], capture_output=True, text=True, timeout=60)


def test_ctrl_c_turned_into_a_runtime_error_by_rclpy_ends_the_node_normally():
    result = run("interrupted")
    assert result.returncode == 0, result.stderr


def test_a_runtime_error_without_ctrl_c_is_not_hidden():
    result = run("error")
    assert result.returncode == 1 and "a real error in a callback" in result.stderr
