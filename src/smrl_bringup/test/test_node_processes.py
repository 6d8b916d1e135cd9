"""The embedded starter: one process per node; a node that dies is reported and the rest run on."""
import logging
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from smrl_bringup.core.graph_description import load_graph
from smrl_bringup.core.node_processes import NodeProcesses
from smrl_common.core.controller_topics import ARM_COMMANDS
from smrl_msgs.msg import KeypointArray


def received_in_last(seen, topic, seconds):
    """The data of the `seen[topic]` messages (receive time s, data) received in the last `seconds`."""
    since = time.monotonic() - seconds
    return [data for t, data in seen[topic] if t > since]


def flowing_after(seen, killed_at, **more_than):
    """A predicate: 3 s past the kill, and in the last 2 s more than `more_than[topic]` messages of each topic."""
    return lambda: time.monotonic() > killed_at + 3.0 and all(
        len(received_in_last(seen, topic, 2.0)) > count for topic, count in more_than.items())


def test_killing_the_motion_node_is_reported_the_rest_run_on_and_the_arm_holds(
        tmp_path, ros_context, executor, spin_until, caplog):
    seen = {"commands": [], "joints": [], "keypoints": []}  # (receive time s, data)
    watcher = rclpy.create_node("watcher", context=ros_context)
    executor.add_node(watcher)
    watcher.create_subscription(Float64MultiArray, ARM_COMMANDS,
                                lambda m: seen["commands"].append((time.monotonic(), list(m.data))), 10)
    watcher.create_subscription(JointState, "joint_states",
                                lambda m: seen["joints"].append((time.monotonic(), np.array(m.position[:7]))), 10)
    watcher.create_subscription(KeypointArray, "keypoints",
                                lambda m: seen["keypoints"].append((time.monotonic(), None)), qos_profile_sensor_data)

    with caplog.at_level(logging.ERROR, logger="smrl_bringup"), \
            NodeProcesses(load_graph().resolve(), tmp_path / "logs") as graph:
        moving = lambda: seen["keypoints"] and len(seen["commands"]) > 20  # noqa: E731
        assert spin_until(executor, moving, timeout_s=120.0), {k: len(v) for k, v in seen.items()}
        first = seen["joints"][-1][1]
        assert spin_until(executor, lambda: np.abs(seen["joints"][-1][1] - first).max() > 0.05, timeout_s=5.0)

        os.kill(graph.pids()["scripted_motion"], signal.SIGKILL)
        killed_at = time.monotonic()
        reports = []
        assert spin_until(executor, lambda: reports.extend(graph.poll()) or reports, timeout_s=5.0)
        # The sim and perception run on: 2 s of steady flow, once past the kill's transient. Delivery
        # can stall after a peer is SIGKILLed (Fast DDS's shared-memory ports; their health check
        # times out after 1 s): 0.6-1.0 s in 2 of 46 kills here, over 2 s once on CI.
        flowing = flowing_after(seen, killed_at, joints=100, keypoints=20)
        assert spin_until(executor, flowing, timeout_s=20.0), [t - killed_at for t, _ in seen["joints"][-5:]]
        spin_until(executor, lambda: False, timeout_s=1.0)

        assert [(r.name, r.returncode) for r in reports] == [("scripted_motion", -signal.SIGKILL)]
        assert any("scripted_motion" in r.message and "killed by SIGKILL" in r.message for r in caplog.records)
        assert set(graph.pids()) == {"sim", "keypoint_detector", "self_model"} and not graph.poll()
        assert not [t for t, _ in seen["commands"] if t > killed_at + 0.2]  # nobody commands the arm ...
        settled = np.array(received_in_last(seen, "joints", 1.0))
        assert len(settled) > 50 and np.ptp(settled, axis=0).max() < 0.005, np.ptp(settled, axis=0)  # ... it holds
        exit_codes = graph.stop()
    assert exit_codes == {"scripted_motion": -signal.SIGKILL, "sim": 0, "keypoint_detector": 0, "self_model": 0}


def test_start_graph_passes_sigterm_on_and_reports_a_node_that_dies(tmp_path):
    def start():
        process = subprocess.Popen(
            [sys.executable, "-m", "smrl_bringup.start_graph", "--nodes", "scripted_motion", "--log-dir", str(tmp_path)],
            stderr=subprocess.PIPE, text=True)
        pid = int(re.search(r"started scripted_motion \(pid (\d+)\)", process.stderr.readline()).group(1))
        return process, pid

    process, pid = start()
    time.sleep(3.0)  # into rclpy.spin
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, process.stderr.read()
    assert "exit codes {'scripted_motion': 0}" in process.stderr.read()
    assert not os.path.exists(f"/proc/{pid}")

    process, pid = start()
    os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=20) == 1  # its only node died
    assert "node scripted_motion (pid %d) died: killed by SIGKILL" % pid in process.stderr.read()


def test_when_the_keypoint_node_dies_under_the_policy_the_policy_node_holds_the_arm(
        tmp_path, ros_context, executor, spin_until):
    """The policy graph without the episode runner (whose resets would move the arm): the shipped
    touch policy drives the sim from the self model state; the keypoint node is killed mid-run, the
    self model state goes stale, and the policy node commands the measured position, unchanged."""
    from smrl_bringup.demo import shipped_policy
    from smrl_policy.freeze_self_model import evidence_path

    policy = shipped_policy()
    nodes = [node for node in load_graph().resolve({"policy": str(policy), "self_evidence": str(evidence_path(policy))})
             if node.name in ("sim", "keypoint_detector", "self_model", "policy")]
    seen = {"commands": [], "joints": []}  # (receive time s, data)
    watcher = rclpy.create_node("watcher", context=ros_context)
    executor.add_node(watcher)
    watcher.create_subscription(Float64MultiArray, ARM_COMMANDS,
                                lambda m: seen["commands"].append((time.monotonic(), np.array(m.data))), 10)
    watcher.create_subscription(JointState, "joint_states",
                                lambda m: seen["joints"].append((time.monotonic(), np.array(m.position[:7]))), 10)
    with NodeProcesses(nodes, tmp_path / "logs") as graph:
        assert spin_until(executor, lambda: len(seen["commands"]) > 10, timeout_s=120.0), {k: len(v) for k, v in seen.items()}
        home = seen["joints"][0][1]
        assert spin_until(executor, lambda: np.abs(seen["joints"][-1][1] - home).max() > 0.1, timeout_s=5.0)

        os.kill(graph.pids()["keypoint_detector"], signal.SIGKILL)
        killed_at = time.monotonic()
        reports = []
        assert spin_until(executor, lambda: reports.extend(graph.poll()) or reports, timeout_s=5.0)
        # 2 s of holds, once past the kill's transient (see the test above)
        flowing = flowing_after(seen, killed_at, commands=10, joints=100)
        assert spin_until(executor, flowing, timeout_s=20.0), "the policy node goes on commanding: the hold"
        spin_until(executor, lambda: False, timeout_s=1.0)
        assert [(r.name, r.returncode) for r in reports] == [("keypoint_detector", -signal.SIGKILL)]
        holds = [command for t, command in seen["commands"] if t > killed_at + 0.5]
        assert np.ptp(np.array(holds), axis=0).max() == 0.0, "one hold target, repeated"
        settled = np.array(received_in_last(seen, "joints", 1.0))
        assert len(settled) > 50 and np.ptp(settled, axis=0).max() < 0.005, np.ptp(settled, axis=0)
        assert np.abs(settled[-1] - holds[-1]).max() < 0.02  # the arm is where it is held
        graph.stop()
    assert "'stale self-model state'" in (tmp_path / "logs" / "policy.log").read_text()


def test_a_node_that_hangs_on_stop_leaves_its_stacks_in_its_log_and_is_killed(tmp_path, caplog):
    """SIGINT ignored, as a node stuck in middleware shutdown would: after stop_timeout_s the
    supervisor aborts it, and Python's faulthandler has written where each thread was."""
    class HangingNodes(NodeProcesses):
        def command(self, node):
            return [sys.executable, "-c", HANGING_NODE]

    sim = [node for node in load_graph().resolve() if node.name == "sim"]
    graph = HangingNodes(sim, tmp_path / "logs", stop_timeout_s=1.0)
    with caplog.at_level(logging.ERROR, logger="smrl_bringup"):
        graph.start()
        time.sleep(1.0)  # past the signal handler's installation
        started = time.monotonic()
        assert graph.stop() == {"sim": -signal.SIGABRT}
    assert time.monotonic() - started < 1.0 + 2.5
    log_text = (tmp_path / "logs" / "sim.log").read_text()
    assert "Fatal Python error: Aborted" in log_text and 'in stuck_in_shutdown' in log_text, log_text
    assert any("outlived SIGINT by 1 s: SIGABRT" in record.message for record in caplog.records)


HANGING_NODE = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
def stuck_in_shutdown():
    while True:
        time.sleep(0.1)
stuck_in_shutdown()
"""
