"""The graph description (config/graph.yaml) as ros2 launch actions, for the launch files.

Full ROS only: `launch` and `launch_ros` have no PyPI wheels, so nothing in the embedded route
imports this module; the embedded starter reads the same description (smrl_bringup.core).
"""
from __future__ import annotations

from typing import Any

from launch.actions import DeclareLaunchArgument
from launch_ros.actions import Node

from smrl_bringup.core.graph_description import load_graph


def declare_arguments(names: list[str] | None = None) -> list[DeclareLaunchArgument]:
    """The graph's launch arguments (those in `names`, or all) with their defaults and descriptions."""
    graph = load_graph()
    return [DeclareLaunchArgument(name, default_value=argument.default, description=argument.description)
            for name, argument in graph.arguments.items() if names is None or name in names]


def graph_nodes(context, names: list[str] | None = None, exclude: tuple[str, ...] = (),
                extra_parameters: dict[str, Any] | None = None) -> list[Node]:
    """For an OpaqueFunction: the graph's nodes for this launch's arguments (undeclared ones keep
    their defaults). `names` starts those nodes whatever their `when`; `exclude` leaves nodes out."""
    graph = load_graph()
    values = graph.argument_values({name: value for name, value in context.launch_configurations.items()
                                    if name in graph.arguments})
    if names is None:
        nodes = graph.resolve(values)
    else:
        nodes = [graph.resolve_node(node, values) for node in graph.nodes if node["name"] in names]
    return [Node(package=node.package, executable=node.executable, name=node.name, output="screen",
                 parameters=[*map(str, node.parameter_files), {**node.parameters, **(extra_parameters or {})}],
                 remappings=list(node.remappings.items()))
            for node in nodes if node.name not in exclude]
