"""The demo graph as separate processes (what `./smrl demo` runs in one process): the sim, a
scripted motion node babbling, the keypoint node and the self model node.

    ros2 launch launch/demo.launch.py rviz:=true
    ros2 launch launch/demo.launch.py use_sim:=false bag:=<bag>   # a recorded arm instead of the sim
    ros2 launch launch/demo.launch.py use_sim:=false              # a real arm's driver, started elsewhere

Without the sim, whatever drives the arm must offer the topics of docs/driver-contract.md.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def config(package, name):
    """A node parameter file installed with its package (share/<package>/config/<name>)."""
    return os.path.join(get_package_share_directory(package), "config", name)


def arm_driver(context):
    """The sim (use_sim:=true), the replay driver playing `bag`, or nothing: a real driver runs."""
    if LaunchConfiguration("use_sim").perform(context) == "true":
        return [IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(os.path.dirname(__file__), "sim.launch.py")),
            launch_arguments={"scene": LaunchConfiguration("scene"), "rviz": LaunchConfiguration("rviz")}.items(),
        )]
    bag = LaunchConfiguration("bag").perform(context)
    if not bag:
        return []
    return [Node(package="smrl_bag", executable="replay_driver_node", name="replay_driver", output="screen",
                 parameters=[config("smrl_bag", "replay_driver_node.yaml"), {"bag": bag, "loop": True}])]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("scene", default_value="default"),
        DeclareLaunchArgument("rviz", default_value="false"),
        DeclareLaunchArgument("use_sim", default_value="true",
                              description="true: the sim; false: the replay driver (with bag) or a real arm's driver"),
        DeclareLaunchArgument("bag", default_value="", description="with use_sim:=false, a bag to replay (loops)"),
        OpaqueFunction(function=arm_driver),
        Node(package="smrl_sim", executable="scripted_motion_node", name="scripted_motion", output="screen",
             parameters=[config("smrl_sim", "scripted_motion_node.yaml"), {"pattern": "babbling"}]),
        Node(package="smrl_perception", executable="keypoint_node", name="keypoint_detector", output="screen",
             parameters=[config("smrl_perception", "keypoint_node.yaml")]),
        Node(package="smrl_self_model", executable="self_model_node", name="self_model", output="screen",
             parameters=[config("smrl_self_model", "self_model_node.yaml")]),
    ])
