"""The node graph described once (config/graph.yaml), resolved for a set of launch arguments.

ros2 launch (launch/demo.launch.py) and the embedded starter both start what `resolve` returns,
so the two routes cannot drift apart: the launch file turns each `NodeLaunch` into a
launch_ros Node, the starter into a process with the same `--ros-args`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

ARGUMENT = re.compile(r"\$\(arg (\w+)\)")
NODE_KEYS = {"name", "package", "executable", "parameter_files", "parameters", "remappings", "when"}


class GraphError(ValueError):
    """The description is inconsistent, or an argument it does not declare was given."""


@dataclass(frozen=True)
class Argument:
    default: str
    description: str


@dataclass(frozen=True)
class NodeLaunch:
    """One node as it is started: everything ros2 launch or `--ros-args` needs."""
    name: str
    package: str
    executable: str
    parameter_files: list[Path]
    parameters: dict[str, Any]                       # typed overrides
    remappings: dict[str, str] = field(default_factory=dict)

    def ros_arguments(self) -> list[str]:
        """`--ros-args ...` for this node: its name, parameter files, overrides and remappings."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for path in self.parameter_files:
            args += ["--params-file", str(path)]
        for name, value in self.parameters.items():
            args += ["-p", f"{name}:={json.dumps(value)}"]  # JSON is YAML, which rcl reads -p values as
        for source, target in self.remappings.items():
            args += ["-r", f"{source}:={target}"]
        return args

    def module(self) -> str:
        """The Python module of the executable's console script (run as `python -m <module>`)."""
        try:
            scripts = [e for e in distribution(self.package).entry_points
                       if e.group == "console_scripts" and e.name == self.executable]
        except PackageNotFoundError:
            raise GraphError(f"{self.name}: package {self.package} is not installed") from None
        if not scripts:
            raise GraphError(f"{self.name}: {self.package} has no console script {self.executable}")
        return scripts[0].module


@dataclass(frozen=True)
class GraphDescription:
    arguments: dict[str, Argument]
    nodes: list[dict[str, Any]]  # as written in the file; `resolve` makes NodeLaunch of them

    def node_names(self) -> list[str]:
        return [node["name"] for node in self.nodes]

    def resolve(self, arguments: dict[str, str] | None = None) -> list[NodeLaunch]:
        """The nodes whose `when` holds for `arguments` (defaults for those not given), substituted."""
        values = self.argument_values(arguments or {})
        return [self.resolve_node(node, values) for node in self.nodes
                if all(condition_holds(condition, values) for condition in node.get("when", []))]

    def argument_values(self, arguments: dict[str, str]) -> dict[str, str]:
        unknown = set(arguments) - set(self.arguments)
        if unknown:
            raise GraphError(f"unknown arguments {sorted(unknown)}; the graph takes {sorted(self.arguments)}")
        return {name: str(arguments.get(name, argument.default)) for name, argument in self.arguments.items()}

    @staticmethod
    def resolve_node(node: dict[str, Any], values: dict[str, str]) -> NodeLaunch:
        return NodeLaunch(
            name=node["name"], package=node["package"], executable=node["executable"],
            parameter_files=[config_file(spec) for spec in node.get("parameter_files", [])],
            parameters={name: substitute(value, values) for name, value in node.get("parameters", {}).items()},
            remappings={source: str(substitute(target, values)) for source, target in node.get("remappings", {}).items()},
        )


def load_graph(path: Path | str | None = None) -> GraphDescription:
    """The graph in `path`, by default the one shipped in this package; checked for consistency."""
    text = Path(path).read_text() if path else files("smrl_bringup").joinpath("config/graph.yaml").read_text()
    raw = yaml.safe_load(text)
    arguments = {name: Argument(str(spec["default"]), spec["description"]) for name, spec in raw["arguments"].items()}
    nodes = raw["nodes"]
    names = [node.get("name") for node in nodes]
    if len(set(names)) != len(names):
        raise GraphError(f"node names must be unique: {names}")
    for node in nodes:
        if set(node) - NODE_KEYS or not {"name", "package", "executable"} <= set(node):
            raise GraphError(f"node {node.get('name')}: keys {sorted(node)}, expected name, package, executable "
                             f"and any of {sorted(NODE_KEYS - {'name', 'package', 'executable'})}")
        used = set(ARGUMENT.findall(json.dumps(node))) | {c.removeprefix("not ") for c in node.get("when", [])}
        if used - set(arguments):
            raise GraphError(f"node {node['name']} uses undeclared arguments {sorted(used - set(arguments))}")
    return GraphDescription(arguments, nodes)


def config_file(spec: str) -> Path:
    """"<package>/<file>" -> that package's config/<file> (package data, as the nodes find theirs)."""
    package, _, name = spec.partition("/")
    return Path(str(files(package).joinpath("config", name)))


def truthy(value: str) -> bool:
    """An argument as a condition: "true" or any non-empty string other than "false"."""
    return value.strip().lower() not in ("", "false")


def condition_holds(condition: str, values: dict[str, str]) -> bool:
    if condition.startswith("not "):
        return not truthy(values[condition.removeprefix("not ")])
    return truthy(values[condition])


def substitute(value: Any, values: dict[str, str]) -> Any:
    """"$(arg NAME)" in strings replaced by the value, the result typed as YAML (ros2 launch does the
    same with substituted parameters: "64" -> 64, "true" -> True); lists element by element."""
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if not isinstance(value, str) or not ARGUMENT.search(value):
        return value
    text = ARGUMENT.sub(lambda match: values[match.group(1)], value)
    return yaml.safe_load(text) if text else ""
