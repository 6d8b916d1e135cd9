"""What makes an arm an arm here: URDF/SDF file plus a small YAML (panda-gym's robot split).

A new robot is a new YAML file in `config/robots/`; no code changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pybullet_data

from smrl_sim.core.config_files import config_path, load_yaml
from smrl_common.core.joint_command_guard import JointLimits


@dataclass(frozen=True)
class RobotConfig:
    name: str
    description_file: str
    joint_names: tuple[str, ...]
    home_positions: tuple[float, ...]
    velocity_limits: tuple[float, ...]
    end_effector_link: str
    gripper_joint_names: tuple[str, ...] = ()
    gripper_open_positions: tuple[float, ...] = ()
    gripper_closed_positions: tuple[float, ...] = ()
    gripper_velocity_limits: tuple[float, ...] = ()
    description_urdf: str | None = None
    # Position limits (rad) for arms whose URDF does not name the joints as the simulation does.
    position_lower: tuple[float, ...] = ()
    position_upper: tuple[float, ...] = ()
    base_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    visual_meshes_from_collision: bool = False
    link_colors: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        for key in ("home_positions", "velocity_limits", *(("position_lower", "position_upper") if self.position_lower else ())):
            if len(getattr(self, key)) != n:
                raise ValueError(f"robot {self.name!r}: {key} needs {n} values, one per joint")
        g = len(self.gripper_joint_names)
        for key in ("gripper_open_positions", "gripper_closed_positions", "gripper_velocity_limits"):
            if len(getattr(self, key)) != g:
                raise ValueError(f"robot {self.name!r}: {key} needs {g} values, one per gripper joint")
        if any(v <= 0 for v in self.velocity_limits + self.gripper_velocity_limits):
            raise ValueError(f"robot {self.name!r}: velocity limits must be positive")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def resolve(self, relative: str) -> Path:
        """A path from the YAML: absolute, or relative to pybullet_data."""
        path = Path(relative)
        return path if path.is_absolute() else Path(pybullet_data.getDataPath()) / path

    @property
    def description_path(self) -> Path:
        return self.resolve(self.description_file)

    @property
    def urdf_path(self) -> Path:
        """The URDF that describes this arm to ROS (robot_state_publisher, rviz)."""
        return self.resolve(self.description_urdf or self.description_file)

    def arm_limits(self) -> JointLimits:
        """Arm joint limits without a simulator, for nodes that command a real or simulated arm.

        Position limits come from the YAML if given, else from the URDF's <limit> tags; velocity
        limits always come from the YAML (datasheet values).
        """
        if self.position_lower and self.position_upper:
            lower, upper = self.position_lower, self.position_upper
        else:
            limits = {}
            for joint in ET.parse(self.urdf_path).getroot().iter("joint"):
                tag = joint.find("limit")
                if tag is not None:
                    limits[joint.get("name")] = (float(tag.get("lower")), float(tag.get("upper")))
            missing = [n for n in self.joint_names if n not in limits]
            if missing:
                raise ValueError(f"robot {self.name!r}: no <limit> in {self.urdf_path} for {missing}")
            lower, upper = zip(*(limits[n] for n in self.joint_names))
        return JointLimits(self.joint_names, np.array(lower), np.array(upper), np.array(self.velocity_limits))

    def gripper_limits(self) -> JointLimits:
        """Gripper joint limits: between the open and closed positions, at the YAML's velocity limits."""
        bounds = np.array([self.gripper_open_positions, self.gripper_closed_positions])
        return JointLimits(self.gripper_joint_names, bounds.min(axis=0), bounds.max(axis=0),
                           np.array(self.gripper_velocity_limits))


def load_robot_config(name_or_path: str) -> RobotConfig:
    """Load `config/robots/<name>.yaml`, or a YAML file given by path."""
    path = config_path("robots", name_or_path)
    data = load_yaml(path)
    tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
    colors = {k: tuple(v) for k, v in (data.get("link_colors") or {}).items()}
    try:
        return RobotConfig(**{**data, **tuples, "link_colors": colors})
    except TypeError as error:
        raise ValueError(f"{path}: {error}") from error
