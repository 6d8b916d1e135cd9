"""The synthetic world the self-model tests run in: keypoints and joints, no images.

A planar 7-joint arm seen from above, in normalised image coordinates (x right, y down). Its link
ends are the "self" keypoints. Around it: static background keypoints with jitter, an object the
arm pushes when its tip touches it, and optionally a look-alike arm that babbles on its own
joints, which the agent never sees. The agent babbles like `smrl_sim.core.motor_babbling`: random
joint targets around home, each held 3-10 frames; with `push_object`, half the segments sweep the
tip through the object instead. Keypoints, in order: 7 arm link ends, 4 background, 1 object,
then 4 on the look-alike arm if there is one.

Tests get the generator through the `synthetic_episode` fixture (pytest's importlib mode does not
let test modules import each other); every test module runs torch on one thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

LINK_LENGTHS = np.array([0.18, 0.15, 0.13, 0.11, 0.09, 0.08, 0.06])  # normalised image units
HOME_RAD = np.array([-np.pi / 2, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1])       # joint 1 is absolute: -pi/2 = up
BABBLING_SPREAD_RAD = 0.6
MAX_JOINT_SPEED_RAD = 0.15    # per frame
CONTACT_RADIUS = 0.08         # tip-to-object distance at which the tip pushes the object
OBJECT_REGION = ((-0.6, 0.2), (0.1, 0.6))  # (x range, y range) the object stays in: the arm's reach
DISTRACTOR_LINKS = [1, 3, 5, 6]             # link ends of the look-alike arm that carry keypoints


@dataclass(frozen=True)
class PlanarArm:
    base: tuple[float, float]

    def link_ends(self, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(..., n) rad -> (..., n, 2): the end of every link, normalised image coordinates."""
        angles = np.cumsum(joint_positions_rad, axis=-1)
        steps = LINK_LENGTHS[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        return np.asarray(self.base) + np.cumsum(steps, axis=-2)

    def tip_jacobian(self, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(2, n): d tip / d q."""
        angles = np.cumsum(joint_positions_rad)
        dx = -np.cumsum((LINK_LENGTHS * np.sin(angles))[::-1])[::-1]
        dy = np.cumsum((LINK_LENGTHS * np.cos(angles))[::-1])[::-1]
        return np.stack([dx, dy])

    def reach(self, joint_positions_rad: np.ndarray, goal: np.ndarray, iterations: int = 30) -> np.ndarray:
        """Joint positions that bring the tip near `goal`: damped least squares from the given ones."""
        q = joint_positions_rad.copy()
        for _ in range(iterations):
            jacobian = self.tip_jacobian(q)
            error = goal - self.link_ends(q)[-1]
            q += jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + 1e-3 * np.eye(2), error)
            q = np.clip(q, HOME_RAD - 2 * BABBLING_SPREAD_RAD, HOME_RAD + 2 * BABBLING_SPREAD_RAD)
        return q


class Babbling:
    """Random joint targets around home, held 3-10 frames; optionally sweeps through the object."""

    def __init__(self, arm: PlanarArm, rng: np.random.Generator, push_probability: float = 0.0) -> None:
        self.arm, self.rng, self.push_probability = arm, rng, push_probability
        self.targets = HOME_RAD.copy()
        self.frames_left = 0
        self.waypoints: list[np.ndarray] = []

    def next_targets(self, joint_positions_rad: np.ndarray, object_position: np.ndarray) -> np.ndarray:
        if self.frames_left <= 0 and not self.waypoints and self.rng.random() < self.push_probability:
            angle = self.rng.uniform(-np.pi, np.pi)
            direction = np.array([np.cos(angle), np.sin(angle)])
            q = joint_positions_rad
            for distance in (0.15, 0.05, -0.05, -0.15, -0.25):  # a straight sweep through the object
                q = self.arm.reach(q, object_position - distance * direction)
                self.waypoints.append(q)
        if self.frames_left <= 0:
            if self.waypoints:
                self.targets, self.frames_left = self.waypoints.pop(0), 3
            else:
                self.targets = HOME_RAD + self.rng.uniform(-1, 1, HOME_RAD.shape) * BABBLING_SPREAD_RAD
                self.frames_left = int(self.rng.integers(3, 10, endpoint=True))
        self.frames_left -= 1
        return self.targets


def track(joint_positions_rad: np.ndarray, targets_rad: np.ndarray) -> np.ndarray:
    """One frame of a position controller: halfway to the target, at most MAX_JOINT_SPEED_RAD."""
    return joint_positions_rad + np.clip(0.5 * (targets_rad - joint_positions_rad),
                                         -MAX_JOINT_SPEED_RAD, MAX_JOINT_SPEED_RAD)


@dataclass
class SyntheticEpisode:
    centers: np.ndarray              # (T, K, 2) normalised, what the keypoint model would report
    intensities: np.ndarray          # (T, K)
    joint_positions_rad: np.ndarray  # (T, n) measured
    joint_targets_rad: np.ndarray    # (T, n) sent at frame t, reached (in part) at t + 1
    roles: list[str]                 # (K,) "arm", "background", "object" or "distractor"
    contact_fraction: float          # of the frames in which the arm's joints moved

    @property
    def is_self(self) -> np.ndarray:
        return np.array([role == "arm" for role in self.roles])


def make_synthetic_episode(seed: int, num_frames: int = 1000, *, push_object: bool = False,
                           distractor_arm: bool = False, still_arm: bool = False, outlier_rate: float = 0.0,
                           jitter: float = 0.004) -> SyntheticEpisode:
    """One episode of the synthetic world; `outlier_rate` of the keypoint detections jump anywhere."""
    rng = np.random.default_rng(seed)
    arm, other_arm = PlanarArm((-0.2, 0.85)), PlanarArm((0.6, 0.85))
    babbling = Babbling(arm, rng, push_probability=0.5 if push_object else 0.0)
    other_babbling = Babbling(other_arm, np.random.default_rng(seed + 1000))
    background = rng.uniform([-0.9, -0.9], [0.9, -0.3], size=(4, 2))
    object_position = np.array([-0.35, 0.45])
    q, other_q = HOME_RAD.copy(), HOME_RAD.copy()
    frames, joints, targets, contacts, moving = [], [], [], 0, 0
    for _ in range(num_frames):  # observe frame t, send the targets of frame t, step to t + 1
        keypoints = [arm.link_ends(q), background, object_position[None]]
        if distractor_arm:
            keypoints.append(other_arm.link_ends(other_q)[DISTRACTOR_LINKS])
        frames.append(np.concatenate(keypoints))
        joints.append(q + rng.normal(0, 1e-4, q.shape))  # encoder noise
        u = HOME_RAD if still_arm else babbling.next_targets(q, object_position)
        targets.append(u)
        previous_q, q = q, track(q, u)
        other_q = track(other_q, other_babbling.next_targets(other_q, object_position))
        tip = arm.link_ends(q)[-1]
        offset = object_position - tip
        if np.linalg.norm(offset) < CONTACT_RADIUS:
            object_position = np.clip(tip + CONTACT_RADIUS * offset / np.linalg.norm(offset), *zip(*OBJECT_REGION))
            contacts += 1
        moving += not np.allclose(q, previous_q)
    roles = ["arm"] * 7 + ["background"] * 4 + ["object"] + ["distractor"] * (4 if distractor_arm else 0)
    centers = np.array(frames) + rng.normal(0, jitter, (num_frames, len(roles), 2))
    jumps = rng.random(centers.shape[:2]) < outlier_rate
    centers[jumps] = rng.uniform(-1, 1, (jumps.sum(), 2))
    return SyntheticEpisode(
        centers=np.clip(centers, -1, 1), intensities=np.ones((num_frames, len(roles))),
        joint_positions_rad=np.array(joints), joint_targets_rad=np.array(targets), roles=roles,
        contact_fraction=contacts / max(moving, 1))


@pytest.fixture(scope="session")
def synthetic_episode():
    """The generator `make_synthetic_episode(seed, num_frames=1000, *, push_object=False, ...)`."""
    return make_synthetic_episode


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Small MLPs and 105 x 105 solves are fastest on one thread; more thrash on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
