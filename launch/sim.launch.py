"""The simulated arm as a real arm's driver would stand: sim node + robot_state_publisher.

    ros2 launch launch/sim.launch.py
    ros2 launch launch/sim.launch.py scene:=kuka_original distractor_arm:=true rviz:=true

robot_state_publisher gets the same URDF the sim loads (meshes as file:// paths) and publishes the
arm's TF and robot_description; the sim publishes the static world/base/camera frames.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from smrl_sim.core.robot import urdf_with_absolute_meshes
from smrl_sim.core.robot_config import load_robot_config
from smrl_sim.core.scene import load_scene_config


def config(package, name):
    """A node parameter file installed with its package (share/<package>/config/<name>)."""
    return os.path.join(get_package_share_directory(package), "config", name)


def nodes(context):
    scene_name = LaunchConfiguration("scene").perform(context)
    robot_config = load_robot_config(load_scene_config(scene_name).robot)
    return [
        Node(package="smrl_sim", executable="sim_node", name="sim", output="screen",
             parameters=[config("smrl_sim", "sim_node.yaml"), {
                 "scene": scene_name,
                 "distractor_arm": LaunchConfiguration("distractor_arm").perform(context) == "true",
                 "task": LaunchConfiguration("task").perform(context),
                 "publish_robot_description": False,
             }]),
        Node(package="robot_state_publisher", executable="robot_state_publisher", output="screen",
             parameters=[{"robot_description": urdf_with_absolute_meshes(robot_config)}]),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("scene", default_value="default", description="scene name or YAML path"),
        DeclareLaunchArgument("task", default_value="touch", description="touch or pick"),
        DeclareLaunchArgument("distractor_arm", default_value="false", description="add the look-alike arm"),
        DeclareLaunchArgument("rviz", default_value="false", description="start rviz2 with launch/smrl.rviz"),
        OpaqueFunction(function=nodes),
        Node(package="rviz2", executable="rviz2", arguments=["-d", os.path.join(os.path.dirname(__file__), "smrl.rviz")],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])
