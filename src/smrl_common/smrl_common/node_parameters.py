"""Declared parameters of every SMRL node, from one table per node: name -> (default, description).

Declaring each with its description makes `ros2 param describe` explain it, and the table is what
the nodes' YAML files and their tests are checked against.
"""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node


def declare_parameters(node: Node, parameters: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare `parameters` on `node` and return their values (overrides and YAML applied)."""
    for name, (default, description) in parameters.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=description))
    return {name: node.get_parameter(name).value for name in parameters}
