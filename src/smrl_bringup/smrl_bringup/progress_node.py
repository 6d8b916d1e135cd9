"""A node that watches the self model's output for the demo's progress lines (and its start)."""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from smrl_msgs.msg import SelfModelState
from smrl_self_model.core.contingency import LABEL_SELF


class ProgressNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("demo_progress", **node_options)
        self.states_received = 0
        self.self_keypoints: list[int] = []
        self.create_subscription(SelfModelState, "self_model/state", self.on_state, qos_profile_sensor_data)

    def on_state(self, msg: SelfModelState) -> None:
        self.states_received += 1
        self.self_keypoints = np.flatnonzero(np.array(msg.labels) == LABEL_SELF).tolist()
