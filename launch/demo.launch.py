"""The demo graph as separate processes (what `./smrl demo` starts with the embedded starter):
the sim, a scripted motion node babbling, the keypoint node, the self model node and, with
record:=<folder>, the bag recorder. The nodes and their parameters are described once, in
smrl_bringup's config/graph.yaml; this file turns that description into launch actions.

    ros2 launch launch/demo.launch.py rviz:=true
    ros2 launch launch/demo.launch.py record:=bags/run1               # also records a bag
    ros2 launch launch/demo.launch.py use_sim:=false bag:=<bag>       # a recorded arm instead of the sim
    ros2 launch launch/demo.launch.py use_sim:=false                  # a real arm's driver, started elsewhere
    ros2 launch launch/demo.launch.py policy:=<file>                  # a trained policy drives instead of babbling

Without the sim, whatever drives the arm must offer the topics of docs/driver-contract.md.
"""
import os

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from smrl_bringup.launch_nodes import declare_arguments, graph_nodes


def generate_launch_description():
    return LaunchDescription([
        *declare_arguments(),
        # the sim with robot_state_publisher and rviz2, which only a full ROS install has
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(os.path.join(os.path.dirname(__file__), "sim.launch.py")),
            condition=IfCondition(LaunchConfiguration("use_sim"))),
        OpaqueFunction(function=lambda context: graph_nodes(context, exclude=("sim",))),
    ])
