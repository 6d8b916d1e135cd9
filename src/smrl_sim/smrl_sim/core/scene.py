"""The simulated world: table, arm, task object, camera, and an optional look-alike distractor arm.

`SimWorld` owns one PyBullet client in DIRECT mode (no GUI) so several worlds can live in one
process. The segmentation-based ground truth it offers is for evaluation only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from smrl_sim.core.camera import Camera, CameraConfig
from smrl_sim.core.config_files import config_path, load_yaml
from smrl_sim.core.robot import Robot
from smrl_sim.core.robot_config import RobotConfig, load_robot_config

TABLE_TOP_Z_M = 0.626  # pybullet_data's table/table.urdf placed at the origin height


@dataclass(frozen=True)
class ObjectConfig:
    urdf: str = "cube_small.urdf"
    scale: float = 1.3
    color: tuple[float, float, float, float] = (0.1, 0.8, 0.2, 1.0)
    spawn_x: tuple[float, float] = (0.40, 0.65)   # m, world frame: where episodes start it (in reach)
    spawn_y: tuple[float, float] = (-0.20, 0.20)
    relocate_x: tuple[float, float] = (0.15, 1.0)  # m: where someone re-places it mid-episode: the
    relocate_y: tuple[float, float] = (-0.42, 0.42)  # table top, 1.5 x 1 m around (0.5, 0), less its edge


@dataclass(frozen=True)
class SceneConfig:
    camera: CameraConfig  # no default, as CameraConfig has none: the scene YAML owns the camera
    robot: str = "panda"
    time_step_s: float = 1.0 / 240.0
    object: ObjectConfig = field(default_factory=ObjectConfig)
    table_color: tuple[float, float, float, float] = (0.55, 0.50, 0.45, 1.0)
    distractor_arm: bool = False
    distractor_base_position: tuple[float, float, float] = (0.55, 0.5, TABLE_TOP_Z_M)
    distractor_base_yaw_deg: float = -90.0


def load_scene_config(name_or_path: str = "default", **overrides: Any) -> SceneConfig:
    """A shipped scene by name (`config/scenes/<name>.yaml`) or a YAML path, with overrides.

    Overrides may name top-level keys (`distractor_arm=True`) or `camera`/`object` dicts of keys.
    """
    data = load_yaml(config_path("scenes", name_or_path))
    for key, value in overrides.items():
        if key in ("camera", "object") and isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    known = {f.name for f in fields(SceneConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown scene settings {sorted(unknown)}; known: {sorted(known)}")
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    camera = data.pop("camera", {})
    obj = data.pop("object", {})
    obj = {k: tuple(v) if isinstance(v, list) else v for k, v in obj.items()}
    return SceneConfig(
        camera=camera if isinstance(camera, CameraConfig) else CameraConfig.from_dict(camera),
        object=obj if isinstance(obj, ObjectConfig) else ObjectConfig(**obj),
        **data,
    )


class DistractorMotion:
    """Drives the distractor arm through random joint targets with its own random generator.

    It moves like the agent's arm (same kinematics, limits and speeds) but independently of the
    agent's commands: exactly the case a contingency-based self model must call "world".
    """

    def __init__(self, robot: Robot, rng: np.random.Generator, hold_s: tuple[float, float] = (0.3, 1.2)) -> None:
        self.robot = robot
        self.rng = rng
        self.hold_s = hold_s
        self._time_left_s = 0.0

    def step(self, dt_s: float) -> None:
        self._time_left_s -= dt_s
        if self._time_left_s <= 0.0:
            home = np.array(self.robot.config.home_positions)
            spread = 0.35 * (self.robot.arm_limits.upper - self.robot.arm_limits.lower) / 2.0
            self.robot.set_targets(home + self.rng.uniform(-1, 1, home.shape) * np.minimum(spread, 1.2))
            self._time_left_s = self.rng.uniform(*self.hold_s)


class SimWorld:
    """Table, arm, object and camera in one DIRECT-mode PyBullet client."""

    def __init__(self, config: SceneConfig, robot_config: RobotConfig | None = None) -> None:
        self.config = config
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.client.setGravity(0, 0, -9.81)
        self.client.setTimeStep(config.time_step_s)
        self.client.loadURDF("plane.urdf")
        self.table_id = self.client.loadURDF("table/table.urdf", [0.5, 0.0, 0.0], useFixedBase=True)
        self.client.changeVisualShape(self.table_id, -1, rgbaColor=config.table_color)
        self.robot = Robot(self.client, robot_config or load_robot_config(config.robot))
        obj = config.object
        self.object_id = self.client.loadURDF(obj.urdf, [0.5, 0.0, TABLE_TOP_Z_M + 0.05], globalScaling=obj.scale)
        self.client.changeVisualShape(self.object_id, -1, rgbaColor=obj.color)
        self.client.changeDynamics(self.object_id, -1, lateralFriction=1.0, spinningFriction=0.001)
        self.distractor: DistractorMotion | None = None
        if config.distractor_arm:
            twin = Robot(self.client, self.robot.config, config.distractor_base_position,
                         math.radians(config.distractor_base_yaw_deg))
            self.distractor = DistractorMotion(twin, np.random.default_rng())
        self.camera = Camera(config.camera)
        self.sim_time_s = 0.0
        self.object_rest_z_m = TABLE_TOP_Z_M

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client = None

    # --- episode ---------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        """Arm to home, gripper open, object at a random pose on the table, distractor reseeded."""
        cfg = self.robot.config
        self.robot.reset_joints(np.array(cfg.home_positions), np.array(cfg.gripper_open_positions))
        self.place_object(rng)
        if self.distractor is not None:
            self.distractor.rng = np.random.default_rng(rng.integers(2**63))
            twin = self.distractor.robot
            twin.reset_joints(np.array(twin.config.home_positions))
            self.distractor._time_left_s = 0.0
        for _ in range(10):  # let the object settle on the table
            self.client.stepSimulation()
        self.object_rest_z_m = self.object_position()[2]

    def place_object(self, rng: np.random.Generator, anywhere_on_table: bool = False) -> None:
        """Put the object at a random pose: in the spawn area (at reset), or anywhere on the table
        when a dataset has someone move it mid-episode (so the object moves by itself, not only
        when the arm pushes it, and over the whole table: a keypoint must follow it there)."""
        obj = self.config.object
        half_height = 0.025 * obj.scale
        x_range, y_range = (obj.relocate_x, obj.relocate_y) if anywhere_on_table else (obj.spawn_x, obj.spawn_y)
        for _ in range(20):  # not into an arm: it would be flung away
            x, y = rng.uniform(*x_range), rng.uniform(*y_range)
            yaw = rng.uniform(-math.pi, math.pi)
            self.client.resetBasePositionAndOrientation(
                self.object_id, [x, y, TABLE_TOP_Z_M + half_height], self.client.getQuaternionFromEuler([0, 0, yaw])
            )
            if not self._object_near_an_arm(clearance_m=0.02):
                break
        self.client.resetBaseVelocity(self.object_id, [0, 0, 0], [0, 0, 0])

    def _object_near_an_arm(self, clearance_m: float) -> bool:
        arms = [self.robot] + ([self.distractor.robot] if self.distractor is not None else [])
        return any(self.client.getClosestPoints(arm.body_id, self.object_id, clearance_m) for arm in arms)

    def step(self, num_steps: int = 1) -> None:
        dt = self.config.time_step_s
        for _ in range(num_steps):
            self.robot.drive(dt)
            if self.distractor is not None:
                self.distractor.step(dt)
                self.distractor.robot.drive(dt)
            self.client.stepSimulation()
            self.sim_time_s += dt

    def render(self, segmentation: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        return self.camera.render(self.client, segmentation)

    # --- privileged state (baselines, rewards, evaluation) ------------------------------------
    def object_position(self) -> np.ndarray:
        return np.array(self.client.getBasePositionAndOrientation(self.object_id)[0])

    def object_lift_m(self) -> float:
        return float(self.object_position()[2] - self.object_rest_z_m)

    def contact_links(self) -> set[int]:
        """Links of the agent's arm touching the object now."""
        return {c[3] for c in self.client.getContactPoints(bodyA=self.robot.body_id, bodyB=self.object_id)}

    def object_grasped(self, contacts: set[int] | None = None) -> bool:
        """Both gripper fingers touch the object (`contacts`: the arm's links touching it, if known)."""
        fingers = set(self.robot.gripper_joint_ids)  # a finger joint's index is its link's index
        return bool(fingers) and fingers <= (self.contact_links() if contacts is None else contacts)

    def object_in_hand(self) -> bool:
        """Grasped and more than 2 cm off the table: the object is being carried."""
        return self.object_grasped() and self.object_lift_m() > 0.02

    def self_mask(self, segmentation: np.ndarray) -> np.ndarray:
        """Pixels that show the agent's own arm (not the distractor twin)."""
        return (segmentation >= 0) & ((segmentation & 0xFFFFFF) == self.robot.body_id)

    def distractor_mask(self, segmentation: np.ndarray) -> np.ndarray:
        """Pixels of the look-alike distractor arm (all False without one)."""
        if self.distractor is None:
            return np.zeros(segmentation.shape, dtype=bool)
        return (segmentation >= 0) & ((segmentation & 0xFFFFFF) == self.distractor.robot.body_id)

    def object_mask(self, segmentation: np.ndarray) -> np.ndarray:
        return (segmentation >= 0) & ((segmentation & 0xFFFFFF) == self.object_id)
