"""The demo graph as separate processes (what `./smrl demo` runs in one process): the sim, a
scripted motion node babbling, the keypoint node and the self model node.

    ros2 launch launch/demo.launch.py rviz:=true
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def config(package, name):
    """A node parameter file installed with its package (share/<package>/config/<name>)."""
    return os.path.join(get_package_share_directory(package), "config", name)


def generate_launch_description():
    here = os.path.dirname(__file__)
    return LaunchDescription([
        DeclareLaunchArgument("scene", default_value="default"),
        DeclareLaunchArgument("rviz", default_value="false"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(here, "sim.launch.py")),
            launch_arguments={"scene": LaunchConfiguration("scene"), "rviz": LaunchConfiguration("rviz")}.items(),
        ),
        Node(package="smrl_sim", executable="scripted_motion_node", name="scripted_motion", output="screen",
             parameters=[config("smrl_sim", "scripted_motion_node.yaml"), {"pattern": "babbling"}]),
        Node(package="smrl_perception", executable="keypoint_node", name="keypoint_detector", output="screen",
             parameters=[config("smrl_perception", "keypoint_node.yaml")]),
        Node(package="smrl_self_model", executable="self_model_node", name="self_model", output="screen",
             parameters=[config("smrl_self_model", "self_model_node.yaml")]),
    ])
