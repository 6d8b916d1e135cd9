"""The policy node driving the simulated arm in the real graph (sim, keypoint and self model nodes as
separate processes, as `./smrl demo` starts them): image -> command latency end to end, on this
machine. Slow (~40 s): `./smrl test --slow src/smrl_policy -s` prints the numbers."""
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState

from smrl_msgs.msg import SelfModelState

from smrl_bringup.core.graph_description import load_graph
from smrl_bringup.core.node_processes import NodeProcesses
from smrl_policy.policy_node import PolicyNode

RUN_S = 20.0


class BabblingPolicy:
    """A new random action every 0.5 s (seeded): something to move the arm with, not a trained policy."""
    observation_kind = "self_model"
    max_joint_delta_rad = 0.15  # the env's default

    def __init__(self, num_joints: int) -> None:
        self.rng = np.random.default_rng(0)
        self.num_joints = num_joints
        self.action, self.until_s = np.zeros(num_joints + 1), 0.0
        self.observation_sizes: set[int] = set()

    def act(self, observation: np.ndarray) -> np.ndarray:
        self.observation_sizes.add(observation.size)
        if time.monotonic() >= self.until_s:
            self.action, self.until_s = self.rng.uniform(-1, 1, self.num_joints + 1), time.monotonic() + 0.5
        return self.action

    def save(self, path):
        raise NotImplementedError


@pytest.mark.slow
def test_the_policy_node_drives_the_sim_from_the_self_model_state(tmp_path, ros_context, executor, spin_until):
    nodes = [node for node in load_graph().resolve() if node.name in ("sim", "keypoint_detector", "self_model")]
    policy = BabblingPolicy(7)
    joints: list[np.ndarray] = []
    watcher = rclpy.create_node("watcher", context=ros_context)
    watcher.create_subscription(JointState, "joint_states", lambda m: joints.append(np.array(m.position[:7])), 10)
    states_s: list[tuple[float, float]] = []  # (received, image stamp) s

    def on_state(msg: SelfModelState) -> None:
        received_s = watcher.get_clock().now().nanoseconds * 1e-9
        states_s.append((received_s, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    watcher.create_subscription(SelfModelState, "self_model/state", on_state, qos_profile_sensor_data)
    executor.add_node(watcher)
    with NodeProcesses(nodes, tmp_path / "logs") as graph:
        node = PolicyNode(policy, context=ros_context)
        executor.add_node(node)
        assert spin_until(executor, lambda: node.safety.commands > 0, 120.0), \
            (node.safety.holds, node.dropped, {n: graph.log_path(n).read_text()[-500:] for n in graph.pids()})
        node.latencies_ms.clear()
        node.node_latencies_ms.clear()
        first_command, first_joints = node.safety.commands, joints[-1]
        states_s.clear()
        spin_until(executor, lambda: False, RUN_S)
        assert not graph.poll(), "no node died"
        commands = node.safety.commands - first_command
        image_to_command, node_share = node.latency_summary_ms(), node.latency_summary_ms(node.node_latencies_ms)
        print(f"\n{commands} commands in {RUN_S:.0f} s; image -> command latency ms {image_to_command}, of which "
              f"state received -> command {node_share}; peak speed ratio {node.safety.peak_speed_ratio:.3f}; "
              f"holds {dict(node.safety.holds)}, dropped {dict(node.dropped)}")
        received_s, stamps_s = np.array(states_s).T
        gaps_ms, upstream_ms = np.diff(received_s) * 1e3, (received_s - stamps_s) * 1e3
        print(f"upstream: {len(received_s) / RUN_S:.1f} self model states/s, gaps between them ms median "
              f"{np.median(gaps_ms):.1f} p90 {np.percentile(gaps_ms, 90):.1f} max {gaps_ms.max():.1f}; image -> state "
              f"received ms median {np.median(upstream_ms):.1f} p90 {np.percentile(upstream_ms, 90):.1f}")
        assert commands >= 0.7 * RUN_S * node.p["rate_hz"]
        assert np.abs(joints[-1] - first_joints).max() > 0.1, "the arm moved"
        assert not node.dropped and node.safety.peak_speed_ratio <= 1.0 + 1e-9
        assert policy.observation_sizes == {7 + 2 + 5 * 8}, "7 arm joints, 2 fingers and the shipped model's 8 keypoints"
        node.destroy_node()
