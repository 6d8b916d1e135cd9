"""The simulated arm as a real arm's driver would stand: sim node + robot_state_publisher.

    ros2 launch launch/sim.launch.py
    ros2 launch launch/sim.launch.py scene:=kuka_original distractor_arm:=true rviz:=true

The sim node and its parameters come from smrl_bringup's config/graph.yaml, as in the demo.
robot_state_publisher gets the same URDF the sim loads (meshes as file:// paths) and publishes the
arm's TF and robot_description; the sim publishes the static world/base/camera frames.
"""
import os

from launch import LaunchDescription
from launch.actions import OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from smrl_bringup.launch_nodes import declare_arguments, graph_nodes
from smrl_sim.core.robot import urdf_with_absolute_meshes
from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.core.scene import load_scene_config


def nodes(context):
    robot_config = load_robot_config(load_scene_config(LaunchConfiguration("scene").perform(context)).robot)
    return [
        *graph_nodes(context, names=["sim"], extra_parameters={"publish_robot_description": False}),
        Node(package="robot_state_publisher", executable="robot_state_publisher", output="screen",
             parameters=[{"robot_description": urdf_with_absolute_meshes(robot_config)}]),
    ]


def generate_launch_description():
    return LaunchDescription([
        *declare_arguments(["scene", "task", "distractor_arm", "image_size", "rviz"]),
        OpaqueFunction(function=nodes),
        Node(package="rviz2", executable="rviz2", arguments=["-d", os.path.join(os.path.dirname(__file__), "smrl.rviz")],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])
