"""A node that watches the self model's output and the episode results for the demo's progress
lines, its start and its end."""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data

from smrl_msgs.msg import SelfModelState, TaskStatus
from smrl_self_model.core.contingency import LABEL_SELF


class ProgressNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("demo_progress", **node_options)
        self.states_received = 0
        self.self_keypoints: list[int] = []
        self.episode_results: list[TaskStatus] = []
        self.create_subscription(SelfModelState, "self_model/state", self.on_state, qos_profile_sensor_data)
        self.create_subscription(TaskStatus, "sim/episode_results", self.episode_results.append,
                                 QoSProfile(depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL))

    def on_state(self, msg: SelfModelState) -> None:
        self.states_received += 1
        self.self_keypoints = np.flatnonzero(np.array(msg.labels) == LABEL_SELF).tolist()
