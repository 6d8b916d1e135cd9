"""The embedded route's process supervisor: each node of a resolved graph as its own OS process.

The PyPI ROS 2 has no `ros2 launch`; this does the part of it the graph needs: start
`python -m <module> --ros-args ...` per node (the same arguments launch_ros would pass), each in
a session of its own so that a terminal's Ctrl-C reaches the supervisor only and the supervisor
decides how to stop them; report a node that dies (logged, and returned by `poll`) while the rest
keep running; stop them all with SIGINT (or the signal the supervisor got), then SIGKILL what
outlives `stop_timeout_s`. Each node's stdout and stderr go to `<log_dir>/<name>.log`.

A node that hangs while stopping gets SIGABRT before SIGKILL: the nodes run with Python's
faulthandler on (PYTHONFAULTHANDLER=1), which writes every thread's Python stack to the node's log
on SIGABRT, so the log says where it hung.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from smrl_bringup.core.graph_description import NodeLaunch

log = logging.getLogger("smrl_bringup")
LOG_TAIL_LINES = 5  # of a dead node's log, in its report
STACK_DUMP_WAIT_S = 2.0  # after SIGABRT, for faulthandler to write the stacks, before SIGKILL


@dataclass(frozen=True)
class NodeExit:
    name: str
    pid: int
    returncode: int  # negative: killed by that signal
    log_path: Path

    def describe(self) -> str:
        if self.returncode < 0:
            how = f"killed by {signal.Signals(-self.returncode).name}"
        else:
            how = f"exit code {self.returncode}"
        lines = self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if self.log_path.exists() else []
        tail = "".join(f"\n    | {line}" for line in lines)
        return f"node {self.name} (pid {self.pid}) died: {how}; its log {self.log_path}{tail}"


class NodeProcesses:
    """Start with `start()` (or `with NodeProcesses(...) as graph:`), watch with `poll()`, end with `stop()`."""

    def __init__(self, nodes: list[NodeLaunch], log_dir: Path | str, stop_timeout_s: float = 10.0) -> None:
        self.nodes = nodes
        self.log_dir = Path(log_dir)
        self.stop_timeout_s = stop_timeout_s
        self.processes: dict[str, subprocess.Popen] = {}
        self.exits: dict[str, NodeExit] = {}  # every node that has ended, by name
        self.died: list[NodeExit] = []         # those that ended before stop() asked them to

    def command(self, node: NodeLaunch) -> list[str]:
        return [sys.executable, "-m", node.module(), *node.ros_arguments()]

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        commands = {node.name: self.command(node) for node in self.nodes}  # all checked before any starts
        environment = {**os.environ, "PYTHONFAULTHANDLER": "1"}
        for name, command in commands.items():
            with open(self.log_path(name), "w") as log_file:
                self.processes[name] = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file,
                                                        stderr=subprocess.STDOUT, start_new_session=True,
                                                        env=environment)
            log.info("started %s (pid %d): %s", name, self.processes[name].pid, " ".join(command[1:]))

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def pids(self) -> dict[str, int]:
        """Running nodes' process ids, by name."""
        return {name: process.pid for name, process in self.processes.items() if name not in self.exits}

    def poll(self) -> list[NodeExit]:
        """Nodes that ended since the last call, each reported in the log; the others run on."""
        ended = []
        for name, process in self.processes.items():
            if name not in self.exits and process.poll() is not None:
                self.exits[name] = NodeExit(name, process.pid, process.returncode, self.log_path(name))
                ended.append(self.exits[name])
                self.died.append(self.exits[name])
                log.error(self.exits[name].describe())
        return ended

    def stop(self, signum: int = signal.SIGINT) -> dict[str, int]:
        """Send `signum` to every running node; those still running after stop_timeout_s get SIGABRT
        (their stacks into their logs), then SIGKILL; -> exit code of every node, including those
        that had died before."""
        self.poll()
        running = {name: process for name, process in self.processes.items() if name not in self.exits}
        for process in running.values():
            process.send_signal(signum)
        deadline = time.monotonic() + self.stop_timeout_s
        for name, process in running.items():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("node %s (pid %d) outlived %s by %.0f s: SIGABRT (its stacks go to %s), then SIGKILL",
                          name, process.pid, signal.Signals(signum).name, self.stop_timeout_s, self.log_path(name))
                self.abort(process)
            self.exits[name] = NodeExit(name, process.pid, process.returncode, self.log_path(name))
        return {name: node_exit.returncode for name, node_exit in self.exits.items()}

    @staticmethod
    def abort(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(timeout=STACK_DUMP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "NodeProcesses":
        try:
            self.start()
        except BaseException:
            self.stop()  # the ones that did start
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
