"""One arm in a PyBullet world: loading, joint control within limits, state, kinematics."""
from __future__ import annotations

import copy
import hashlib
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from smrl_common.core.joint_command_guard import JointLimits
from smrl_sim.core.robot_config import RobotConfig

POSITION_GAIN = 0.3                    # fraction of the position error corrected per physics step
ACCELERATION_PER_VELOCITY_LIMIT = 5.0   # 1/s: a joint reaches its velocity limit in 0.2 s
ARM_TORQUE_NM = 200.0                  # per revolute joint
GRIPPER_FORCE_N = 40.0                 # per prismatic finger


def urdf_with_absolute_meshes(config: RobotConfig) -> str:
    """The arm's URDF text with `package://` mesh paths made absolute.

    PyBullet resolves `package://` relative to the URDF's folder; rviz cannot. Absolute `file://`
    paths work for both, so this is also what the sim publishes on `robot_description`.
    """
    path = config.urdf_path
    text = path.read_text(encoding="utf-8")
    return text.replace("package://", f"file://{path.parent}/")


def _urdf_for_simulation(config: RobotConfig) -> Path:
    """The file PyBullet loads; with `visual_meshes_from_collision`, a copy drawing collision meshes.

    Light visual meshes make TinyRenderer several times faster (the Panda's stock visuals are ~10 MB)
    while the arm keeps its shape. The copy is cached by content hash in the temp folder.
    """
    source = config.description_path
    if not config.visual_meshes_from_collision:
        return source
    root = ET.fromstring(source.read_text(encoding="utf-8"))
    for link in root.iter("link"):
        collision = link.find("collision")
        if collision is None:
            continue
        for visual in link.findall("visual"):
            for child in ("origin", "geometry"):
                old, new = visual.find(child), collision.find(child)
                if old is not None:
                    visual.remove(old)
                if new is not None:
                    visual.insert(0, copy.deepcopy(new))
    text = ET.tostring(root, encoding="unicode").replace("package://", f"{source.parent}/")
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    cached = Path(tempfile.gettempdir()) / "smrl_urdf" / f"{config.name}-{digest}.urdf"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{digest}.part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(cached)  # atomic: parallel workers may race here
    return cached


class Robot:
    """An arm loaded from a `RobotConfig`, driven by joint position targets.

    Targets are clamped to the position limits. `drive` (once per physics step, from
    `SimWorld.step`) commands each joint's velocity towards its target within the velocity limits
    and changes it by at most `ACCELERATION_PER_VELOCITY_LIMIT` x the limit per second: PyBullet's
    `maxVelocity` caps only the motor's command, and abrupt reversals let coupled joints overshoot
    it (up to 2.7x the limit measured with random targets).
    """

    def __init__(
        self,
        client: BulletClient,
        config: RobotConfig,
        base_position: tuple[float, float, float] | None = None,
        base_yaw_rad: float | None = None,
    ) -> None:
        self.client = client
        self.config = config
        position = base_position or config.base_position
        rpy = list(config.base_rpy)
        if base_yaw_rad is not None:
            rpy[2] = base_yaw_rad
        orientation = client.getQuaternionFromEuler(rpy)
        path = _urdf_for_simulation(config)
        if path.suffix == ".sdf":
            self.body_id = client.loadSDF(str(path))[0]
            client.resetBasePositionAndOrientation(self.body_id, position, orientation)
            client.createConstraint(
                self.body_id, -1, -1, -1, pybullet.JOINT_FIXED, (0, 0, 0), (0, 0, 0), position, (0, 0, 0, 1), orientation
            )
        else:
            self.body_id = client.loadURDF(
                str(path), position, orientation, useFixedBase=True, flags=pybullet.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT
            )
        self._joint_index: dict[str, int] = {}
        self.link_index: dict[str, int] = {client.getBodyInfo(self.body_id)[0].decode(): -1}
        lower, upper = {}, {}
        for j in range(client.getNumJoints(self.body_id)):
            info = client.getJointInfo(self.body_id, j)
            name = info[1].decode()
            self._joint_index[name] = j
            self.link_index[info[12].decode()] = j
            lower[name], upper[name] = info[8], info[9]
        missing = [n for n in config.joint_names + config.gripper_joint_names if n not in self._joint_index]
        if missing:
            raise ValueError(f"robot {config.name!r}: joints {missing} are not in {path.name}")
        if config.end_effector_link not in self.link_index:
            raise ValueError(f"robot {config.name!r}: no link {config.end_effector_link!r} in {path.name}")
        self.arm_joint_ids = [self._joint_index[n] for n in config.joint_names]
        self.gripper_joint_ids = [self._joint_index[n] for n in config.gripper_joint_names]
        self.end_effector_link_id = self.link_index[config.end_effector_link]
        self.arm_limits = JointLimits(
            names=config.joint_names,
            lower=np.array([lower[n] for n in config.joint_names]),
            upper=np.array([upper[n] for n in config.joint_names]),
            velocity=np.array(config.velocity_limits),
        )
        self.gripper_limits = config.gripper_limits()
        for link, rgba in config.link_colors.items():
            if link in self.link_index:
                client.changeVisualShape(self.body_id, self.link_index[link], rgbaColor=rgba)
        self.arm_targets = np.array(config.home_positions, dtype=float)
        self.gripper_targets = np.array(config.gripper_open_positions, dtype=float)
        self.reset_joints(self.arm_targets, self.gripper_targets)

    # --- commands -------------------------------------------------------------------------
    def reset_joints(self, arm_positions: np.ndarray, gripper_positions: np.ndarray | None = None) -> None:
        """Teleport the joints (episode reset only) and hold them there."""
        arm = self.arm_limits.clamp(np.asarray(arm_positions, dtype=float))
        gripper = self.gripper_targets if gripper_positions is None else np.asarray(gripper_positions, dtype=float)
        gripper = self.gripper_limits.clamp(gripper)
        for joint, value in zip(self.arm_joint_ids + self.gripper_joint_ids, np.concatenate([arm, gripper])):
            self.client.resetJointState(self.body_id, joint, float(value), 0.0)
        self.set_targets(arm, gripper)
        self.hold()

    def set_targets(self, arm_targets: np.ndarray | None = None, gripper_targets: np.ndarray | None = None) -> None:
        """Position targets for the joints, clamped to the position limits; `drive` moves towards them."""
        if arm_targets is not None:
            self.arm_targets = self.arm_limits.clamp(np.asarray(arm_targets, dtype=float))
        if gripper_targets is not None:
            self.gripper_targets = self.gripper_limits.clamp(np.asarray(gripper_targets, dtype=float))

    def hold(self) -> None:
        """Stop the motors where the joints are (after a teleport): no velocity carried over."""
        self._commanded_velocity = np.zeros(len(self.arm_joint_ids) + len(self.gripper_joint_ids))
        self._motors(self._commanded_velocity)

    def drive(self, dt_s: float) -> None:
        """One physics step of motor commands: towards the targets from the measured positions,
        within the velocity limits, braking in time to stop at the target."""
        positions = np.concatenate([self.arm_state()[0], self.gripper_state()[0]])
        error = np.concatenate([self.arm_targets, self.gripper_targets]) - positions
        max_velocity = np.concatenate([self.arm_limits.velocity, self.gripper_limits.velocity])
        max_acceleration = ACCELERATION_PER_VELOCITY_LIMIT * max_velocity
        max_change = max_acceleration * dt_s
        reachable = np.minimum(max_velocity, np.sqrt(2.0 * max_acceleration * np.abs(error)))  # can still brake
        wanted = np.clip(error * POSITION_GAIN / dt_s, -reachable, reachable)
        self._commanded_velocity = self._commanded_velocity + np.clip(wanted - self._commanded_velocity,
                                                                      -max_change, max_change)
        self._motors(self._commanded_velocity)

    def _motors(self, velocities: np.ndarray) -> None:
        num_arm = len(self.arm_joint_ids)
        for joint_ids, targets, force in ((self.arm_joint_ids, velocities[:num_arm], ARM_TORQUE_NM),
                                          (self.gripper_joint_ids, velocities[num_arm:], GRIPPER_FORCE_N)):
            self.client.setJointMotorControlArray(self.body_id, joint_ids, pybullet.VELOCITY_CONTROL,
                                                  targetVelocities=targets.tolist(), forces=[force] * len(joint_ids))

    def set_gripper_closed(self, closed: bool) -> None:
        cfg = self.config
        self.set_targets(gripper_targets=np.array(cfg.gripper_closed_positions if closed else cfg.gripper_open_positions))

    # --- state ----------------------------------------------------------------------------
    def _joint_states(self, joint_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        states = self.client.getJointStates(self.body_id, joint_ids)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def arm_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Measured arm joint positions (rad) and velocities (rad/s)."""
        return self._joint_states(self.arm_joint_ids)

    def gripper_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._joint_states(self.gripper_joint_ids)

    def end_effector_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """World position (m) and orientation (x, y, z, w quaternion) of the end-effector link."""
        state = self.client.getLinkState(self.body_id, self.end_effector_link_id, computeForwardKinematics=True)
        return np.array(state[4]), np.array(state[5])

    def link_positions(self) -> np.ndarray:
        """World positions (m) of every link's frame, base first: (num_links + 1, 3)."""
        base = self.client.getBasePositionAndOrientation(self.body_id)[0]
        links = self.client.getLinkStates(self.body_id, list(range(self.client.getNumJoints(self.body_id))))
        return np.array([base] + [s[4] for s in links])

    def inverse_kinematics(self, position: np.ndarray, orientation: np.ndarray | None = None) -> np.ndarray:
        """Arm joint positions placing the end effector at a world pose, within position limits."""
        all_movable = [j for j in range(self.client.getNumJoints(self.body_id))
                       if self.client.getJointInfo(self.body_id, j)[2] != pybullet.JOINT_FIXED]
        solution = self.client.calculateInverseKinematics(
            self.body_id, self.end_effector_link_id, list(map(float, position)),
            None if orientation is None else list(map(float, orientation)),
            maxNumIterations=50, residualThreshold=1e-4,
        )
        by_joint = dict(zip(all_movable, solution))
        return self.arm_limits.clamp(np.array([by_joint[j] for j in self.arm_joint_ids]))
