"""Static TF of the sim: world -> robot base, world -> camera_link -> camera_optical_frame (REP 103/105).

robot_state_publisher (started by the launch files on a full ROS 2 install) adds the arm's links
from `robot_description`. tf2 has no PyPI wheels: in the embedded setup there is no TF, and the
node says so once instead of publishing a stand-in.
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node

from smrl_sim.core.camera import rotation_to_quaternion
from smrl_sim.core.scene import SimWorld


def _transform(node: Node, parent: str, child: str, position: np.ndarray, quaternion_xyzw: np.ndarray) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.header.frame_id, msg.child_frame_id = parent, child
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = map(float, position)
    q = msg.transform.rotation
    q.x, q.y, q.z, q.w = map(float, quaternion_xyzw)
    return msg


def static_transforms(node: Node, world: SimWorld, world_frame: str, optical_frame: str) -> list[TransformStamped]:
    robot = world.robot
    base_link = next(name for name, index in robot.link_index.items() if index == -1)
    base_position, base_orientation = world.client.getBasePositionAndOrientation(robot.body_id)
    link_position, link_rotation = world.camera.camera_link_pose()
    _, optical_rotation = world.camera.optical_frame_pose()
    camera_link = "camera_link"
    return [
        _transform(node, world_frame, base_link, np.array(base_position), np.array(base_orientation)),
        _transform(node, world_frame, camera_link, link_position, rotation_to_quaternion(link_rotation)),
        _transform(node, camera_link, optical_frame, np.zeros(3),
                   rotation_to_quaternion(link_rotation.T @ optical_rotation)),
    ]


def publish_static_frames(node: Node, world: SimWorld, world_frame: str, optical_frame: str) -> object | None:
    """Publish the static frames on /tf_static if tf2_ros exists; returns the broadcaster (keep it)."""
    try:
        from tf2_ros.static_transform_broadcaster import StaticTransformBroadcaster
    except ImportError:
        node.get_logger().info(
            "tf2_ros is not installed (ROS 2 from PyPI has no tf2 wheels): no TF is published. "
            "On a full ROS 2 install the sim publishes world, robot base and camera frames on /tf_static."
        )
        return None
    broadcaster = StaticTransformBroadcaster(node)
    broadcaster.sendTransform(static_transforms(node, world, world_frame, optical_frame))
    return broadcaster
