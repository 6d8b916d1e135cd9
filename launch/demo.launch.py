"""The demo graph as separate processes (what `./smrl demo` runs in one process).

    ros2 launch launch/demo.launch.py rviz:=true
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    here = os.path.dirname(__file__)
    sim_share = get_package_share_directory("smrl_sim")
    return LaunchDescription([
        DeclareLaunchArgument("scene", default_value="default"),
        DeclareLaunchArgument("rviz", default_value="false"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(here, "sim.launch.py")),
            launch_arguments={"scene": LaunchConfiguration("scene"), "rviz": LaunchConfiguration("rviz")}.items(),
        ),
        Node(package="smrl_sim", executable="scripted_motion_node", name="scripted_motion", output="screen",
             parameters=[os.path.join(sim_share, "config", "scripted_motion_node.yaml")]),
    ])
