"""The replay driver: a recorded arm behind the topics of the driver contract (docs/driver-contract.md).

It plays a bag's camera and joint states live at their recorded pace, restamped to now, with the
sim node's QoS, so the rest of the graph runs with no sim (`use_sim:=false bag:=<bag>`). It takes
the command topics the sim takes and checks each command with the sim's guard, but a recorded arm
cannot move: commands are counted and logged, never applied. Recorded messages that fail to decode
are skipped and counted in `dropped`.

Replay runs in a thread of its own that sleeps until each message is due, as the sim's physics
loop does; stamps are shifted by one offset per pass, so messages recorded with equal stamps (an
image and its camera_info) keep them equal.
"""
from __future__ import annotations

import threading
from collections import Counter

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from smrl_bag.core.bag_playback import BagPlayback, RecordedMessage, play_at_recorded_pace
from smrl_bag.core.bag_recording import BagError
from smrl_bag.message_types import message_class
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_common.core.controller_topics import ARM_COMMANDS, ARM_TRAJECTORY, GRIPPER_COMMANDS
from smrl_common.core.joint_command_guard import CommandRejected, JointCommandGuard
from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.core.trajectory import TrajectoryFollower

PARAMETERS = {
    "bag": ("", "rosbag2 folder (or .mcap file) to replay, e.g. one written by recorder_node."),
    "topics": (["camera/image_raw", "camera/camera_info", "joint_states"],
               "Recorded topics to publish, under the same (relative) names."),
    "loop": (False, "Replay the bag again from its start when it ends."),
    "robot": ("panda", "Robot config name (config/robots) or YAML path: the joint names and limits commands are checked against."),
    "max_trajectory_points": (2000, "Longer joint trajectories are rejected, counted, as by the sim."),
}
# The sim node's QoS for each message type it publishes (docs/driver-contract.md).
SENSOR_DATA_TYPES = {"sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"}


class ReplayDriverNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("replay_driver", **node_options)
        self._stop = threading.Event()  # first: destroy_node needs it if the bag fails to open
        self._replay: threading.Thread | None = None
        p = declare_parameters(self, PARAMETERS)
        self.p = p
        if not p["bag"]:
            raise BagError("no bag given (parameter bag)")
        self.playback = BagPlayback(p["bag"], p["topics"])  # BagError names the bag and the reason
        robot = load_robot_config(p["robot"])
        self.arm_guard = JointCommandGuard(robot.arm_limits())
        self.gripper_guard = JointCommandGuard(robot.gripper_limits())
        self.trajectory = TrajectoryFollower(self.arm_guard, p["max_trajectory_points"])
        self.published: Counter = Counter()  # topic -> messages published
        self.dropped: Counter = Counter()    # reason -> recorded messages skipped
        self.commands: Counter = Counter()   # topic -> valid commands received (never applied)
        self.passes = 0
        self._stamp_shift_ns = 0

        self.publishers_by_topic = {}
        self.message_classes = {}
        for topic, msgtype in self.playback.msgtypes.items():
            self.message_classes[topic] = message_class(msgtype)
            qos = qos_profile_sensor_data if msgtype in SENSOR_DATA_TYPES else 10
            self.publishers_by_topic[topic] = self.create_publisher(self.message_classes[topic], topic, qos)
        self.create_subscription(Float64MultiArray, ARM_COMMANDS, self.on_arm_command, 10)
        self.create_subscription(Float64MultiArray, GRIPPER_COMMANDS, self.on_gripper_command, 10)
        self.create_subscription(JointTrajectory, ARM_TRAJECTORY, self.on_trajectory, 10)
        self.create_timer(10.0, self.report)
        self._replay = threading.Thread(target=self.run_replay, name="replay", daemon=True)
        self._replay.start()
        self.get_logger().info(
            f"replaying {self.playback.message_count} messages on {sorted(self.playback.msgtypes)} from "
            f"{self.playback.path}{', looping' if p['loop'] else ''}; commands are checked and counted, not applied")

    # --- replay thread ------------------------------------------------------------------------
    def run_replay(self) -> None:
        try:
            self.passes = play_at_recorded_pace(self.playback, self.publish_recorded, self._stop,
                                                self.p["loop"], self.start_pass)
        except BagError as error:
            self.get_logger().error(str(error))
            return
        except Exception as error:  # noqa: BLE001 - reported below, or a normal shutdown
            if self.context.ok() and not self._stop.is_set():
                self.get_logger().error(f"replay stopped: {error!r}")
                raise
            return
        if not self._stop.is_set():
            self.get_logger().info(f"the bag ended: published {dict(self.published)}, skipped {dict(self.dropped)}")

    def start_pass(self) -> None:
        self._stamp_shift_ns = self.get_clock().now().nanoseconds - self.playback.start_ns

    def publish_recorded(self, recorded: RecordedMessage) -> None:
        try:
            msg = deserialize_message(recorded.data, self.message_classes[recorded.topic])
        except Exception as error:  # noqa: BLE001 - rclpy raises several types for bad CDR
            self.dropped["undecodable message"] += 1
            self.get_logger().warning(f"skipped an undecodable {recorded.msgtype} on {recorded.topic}: {error}",
                                      throttle_duration_sec=1.0)
            return
        if hasattr(msg, "header"):
            stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec + self._stamp_shift_ns
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
        self.publishers_by_topic[recorded.topic].publish(msg)
        self.published[recorded.topic] += 1

    # --- commands: checked as the sim checks them, then counted ----------------------------------
    def on_arm_command(self, msg: Float64MultiArray) -> None:
        self.check_command(ARM_COMMANDS, lambda: self.arm_guard.positions(msg.data))

    def on_gripper_command(self, msg: Float64MultiArray) -> None:
        self.check_command(GRIPPER_COMMANDS, lambda: self.gripper_guard.positions(msg.data))

    def on_trajectory(self, msg: JointTrajectory) -> None:
        times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]
        self.check_command(ARM_TRAJECTORY,
                           lambda: self.trajectory.plan(msg.joint_names, times, [p.positions for p in msg.points]))

    def check_command(self, topic: str, check) -> None:
        try:
            check()
        except CommandRejected as error:
            self.get_logger().warning(f"rejected {topic}: {error}", throttle_duration_sec=1.0)
            return
        if not self.commands[topic]:
            self.get_logger().info(f"first command on {topic}: a recorded arm cannot follow it (counted, not applied)")
        self.commands[topic] += 1

    def report(self) -> None:
        rejected = {"arm": dict(self.arm_guard.rejections), "gripper": dict(self.gripper_guard.rejections)}
        self.get_logger().info(f"published {dict(self.published)}, skipped {dict(self.dropped)}; commands counted "
                               f"{dict(self.commands)}, rejected {rejected}")

    def destroy_node(self) -> None:
        self._stop.set()
        if self._replay is not None:
            self._replay.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(ReplayDriverNode, args, model_errors=(BagError,), model_name="the bag")


if __name__ == "__main__":
    main()
