"""The recorder node: named topics into a rosbag2 MCAP bag, as `ros2 bag record` would write it.

There is no rosbag2 in ROS 2 from PyPI. Each topic is subscribed raw (the CDR bytes go into the
bag unchanged) once a publisher shows its type in the graph, with the publishers' reliability and
durability: best effort for the camera and keypoints, reliable for joint_states. Timestamps are
receive times, as rosbag2's. The bag is flushed every `flush_period_s` so that a killed recorder
leaves a readable `.mcap` (smrl_bag.core.bag_recording); a clean exit also writes metadata.yaml.
"""
from __future__ import annotations

import time

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from smrl_bag.core.bag_recording import BagError, BagRecording
from smrl_bag.message_types import message_class
from smrl_common.core.bag_types import smrl_typestore
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node

PARAMETERS = {
    "topics": (["camera/image_raw", "camera/camera_info", "joint_states", "keypoints"],
               "Topics to record; relative names resolve in the node's namespace. Each is subscribed once a "
               "publisher shows its type; topics that never appear are reported, not an error."),
    "output": ("", "Folder of the new bag (it must not exist); empty: rosbag2_<date>-<time> in the working "
                   "directory, as ros2 bag record names it."),
    "flush_period_s": (1.0, "Seconds between flushes: a killed recorder loses at most the last one."),
    "discovery_period_s": (0.5, "Seconds between searches of the graph for topics not yet recorded."),
    "queue_depth": (100, "Subscription queue depth, deeper than a sensor-data reader's 5 so bursts are kept."),
}


def recording_qos(offered: list[QoSProfile], depth: int) -> QoSProfile:
    """Reliable or transient local only where every publisher offers it, as rosbag2 adapts."""
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class RecorderNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("recorder", **node_options)
        self.bag: BagRecording | None = None  # first: destroy_node needs it if opening fails
        p = declare_parameters(self, PARAMETERS)
        if p["flush_period_s"] <= 0 or p["discovery_period_s"] <= 0 or p["queue_depth"] < 1:
            raise ValueError("need flush_period_s > 0, discovery_period_s > 0 and queue_depth >= 1")
        self.p = p
        self.waiting = {self.resolve_topic_name(topic) for topic in p["topics"]}  # full names not yet recorded
        self.bag = BagRecording(p["output"] or time.strftime("rosbag2_%Y_%m_%d-%H_%M_%S"), smrl_typestore())
        self.create_timer(p["discovery_period_s"], self.discover_topics)
        self.create_timer(p["flush_period_s"], self.bag.flush)
        self.create_timer(10.0, self.report)
        self.get_logger().info(f"recording {sorted(self.waiting)} to {self.bag.path}")
        self.discover_topics()

    def discover_topics(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            offered = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
            if topic not in self.waiting or not offered:
                continue
            self.waiting.discard(topic)
            msgtype = types[0]
            if len(types) > 1:
                self.get_logger().warning(f"{topic} has several types {types}; recording {msgtype}")
            try:
                self.bag.add_topic(topic, msgtype)
                msg_class = message_class(msgtype)
            except (BagError, ImportError, AttributeError, ValueError) as error:
                self.get_logger().error(f"not recording {topic}: {error}")
                continue
            qos = recording_qos(offered, self.p["queue_depth"])
            self.create_subscription(msg_class, topic, lambda data, t=topic: self.on_message(t, data), qos, raw=True)
            self.get_logger().info(f"recording {topic} ({msgtype}, {qos.reliability.name.lower()})")

    def on_message(self, topic: str, data: bytes) -> None:
        self.bag.write(topic, self.get_clock().now().nanoseconds, data)

    def report(self) -> None:
        waiting = f"; no publisher yet on {sorted(self.waiting)}" if self.waiting else ""
        self.get_logger().info(f"messages recorded: {dict(self.bag.message_counts)}{waiting}")

    def destroy_node(self) -> None:
        bag, self.bag = self.bag, None  # closed once, however often the node is destroyed
        if bag is not None:
            bag.close()
            self.get_logger().info(f"wrote {dict(bag.message_counts)} to {bag.path}")
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(RecorderNode, args, model_errors=(BagError,), model_name="the bag to record")


if __name__ == "__main__":
    main()
