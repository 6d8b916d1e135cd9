"""The policy's view of SmrlEnv: gymnasium wrappers that turn its observation dict into one flat vector.

    "privileged"  joint positions (n arm + g gripper), end effector xyz, object xyz, object - end
                  effector (m): the simulator's ground truth, for baselines and experts only.
    "self_model"  what the robot sees from pixels: the shipped keypoint model on each rgb frame, a
                  self model frozen from a motor-babbling dataset giving per-frame labels, and
                  the joints, as `self_model_observation` (smrl_policy.core.observation) lays out.
                  Built from `rgb` and `joint_positions` only: no privileged value enters it.
    "blind"       the joint positions alone: a control that shows how much touch success needs no
                  sight of the object (91/100 at best: the cube is placed in a small area).

With `scripted_grasp`, SmrlEnv takes `ee_delta` actions and smrl_policy.core.scripted_grasp wraps
it beneath the observation wrapper: the policy steers the hand in dx, dy, d-yaw, a script
descends, closes and lifts.

The env's `info` (success, distances, true poses) passes through untouched for evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from smrl_policy.core.observation import blank_keypoint_positions, observation_size, self_model_observation
from smrl_policy.core.scripted_grasp import ScriptedGrasp
from smrl_sim.core.env import SmrlEnv

OBSERVATION_KINDS = ("privileged", "self_model", "blind")
#: The babbling dataset a self model is frozen on, when it has to be collected (so that training and
#: evaluation on another machine freeze the same self model): episodes, seed.
SELF_MODEL_DATA_EPISODES, SELF_MODEL_DATA_SEED = 30, 777
PRIVILEGED_EXTRA = 9   # ee (3) + object (3) + object - ee (3)


def privileged_observation(joint_positions: np.ndarray, ee_position: np.ndarray,
                           object_position: np.ndarray) -> np.ndarray:
    """(n + g,), (3,), (3,) -> (n + g + 9,) float32."""
    joint_positions, ee, obj = (np.asarray(a, dtype=np.float32) for a in (joint_positions, ee_position,
                                                                          object_position))
    if ee.shape != (3,) or obj.shape != (3,) or joint_positions.ndim != 1:
        raise ValueError(f"expected joints (n,), ee (3,), object (3,); got {joint_positions.shape}, {ee.shape}, "
                         f"{obj.shape}")
    return np.concatenate([joint_positions, ee, obj, obj - ee])


class PrivilegedObservation(gym.Wrapper):
    """Observation = `privileged_observation` of the env's joints and its info's true positions."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        size = env.observation_space["joint_positions"].shape[0] + PRIVILEGED_EXTRA
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    @staticmethod
    def observe(observation: dict, info: dict) -> np.ndarray:
        return privileged_observation(observation["joint_positions"], info["ee_position"], info["object_position"])

    def reset(self, **kwargs) -> tuple[np.ndarray, dict]:
        observation, info = self.env.reset(**kwargs)
        return self.observe(observation, info), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self.observe(observation, info), reward, terminated, truncated, info


@dataclass
class FrozenSelfModel:
    """The keypoint model and a contingency labeller fitted once on babbling data, then never updated
    (so every episode sees the same self model). `num_arm_joints`: the labeller's joints."""

    detector: Any          # smrl_perception.core.keypoint_detector.KeypointDetector
    labeller: Any          # smrl_self_model.core.contingency.ContingencyLabeller, refreshed
    num_arm_joints: int
    dataset: str           # where it was fitted, for the record
    keypoint_model_sha256: str = ""   # of the keypoint model file: a policy only fits the model it was trained on
    keypoint_model: str = ""          # its path; "" for the model shipped for the robot

    @classmethod
    def from_dataset(cls, folder: Path | str, robot: str = "panda", max_episodes: int | None = None,
                     collect_if_missing: bool = False, keypoint_model: Path | str | None = None) -> FrozenSelfModel:
        """Detect keypoints (with `keypoint_model`, default the one shipped for `robot`) on every
        episode of a babbling dataset (smrl_sim.core.collect), feed the labeller episode by episode,
        refresh once. A missing folder is collected first when `collect_if_missing`
        (SELF_MODEL_DATA_EPISODES of seed SELF_MODEL_DATA_SEED), else it, like a broken one, raises
        DatasetError."""
        from smrl_perception.core.checkpoint import model_file_sha256
        from smrl_perception.core.keypoint_detector import KeypointDetector
        from smrl_self_model.core.contingency import ContingencyLabeller
        from smrl_sim.core.episode_dataset import iter_episodes

        if collect_if_missing and not Path(folder).exists():
            from smrl_sim.core.collect import CollectConfig, collect
            print(f"{folder} is missing: collecting {SELF_MODEL_DATA_EPISODES} episodes of motor babbling "
                  f"(seed {SELF_MODEL_DATA_SEED}) to freeze the self model on...", flush=True)
            collect(CollectConfig(out=Path(folder), episodes=SELF_MODEL_DATA_EPISODES, seed=SELF_MODEL_DATA_SEED))

        detector = KeypointDetector.from_checkpoint(keypoint_model, robot=robot)
        keypoint_model_sha256 = model_file_sha256(keypoint_model, robot)
        labeller = None
        for index, (_, episode) in enumerate(iter_episodes(Path(folder), keys=("rgb", "joint_positions"))):
            if max_episodes is not None and index >= max_episodes:
                break
            keypoints = detector.detect(episode["rgb"])
            if labeller is None:
                labeller = ContingencyLabeller(detector.num_keypoints, episode["joint_positions"].shape[1])
            labeller.update_episode(keypoints.normalised, keypoints.intensities, episode["joint_positions"])
        labeller.refresh()
        return cls(detector, labeller, labeller.num_joints, str(folder), keypoint_model_sha256,
                   str(keypoint_model or ""))

    @classmethod
    def for_policy(cls, metadata: dict, self_model_data: Path | str | None = None) -> FrozenSelfModel:
        """The self model a self_model policy was trained with: frozen on the dataset its metadata
        names (or `self_model_data`) with the keypoint model it names. ValueError when it names no
        dataset, or when that keypoint model is not the one it was trained on (changed since)."""
        data = self_model_data or metadata.get("self_model_data")
        if not data:
            raise ValueError("the policy names no self model dataset: give one")
        self_model = cls.from_dataset(data, collect_if_missing=True, keypoint_model=metadata.get("keypoint_model") or None)
        trained_with = metadata.get("keypoint_model_sha256")
        if trained_with != self_model.keypoint_model_sha256:
            raise ValueError(f"the policy was trained on the output of another keypoint model (sha256 "
                             f"{str(trained_with)[:12]}, now {self_model.keypoint_model_sha256[:12]}): retrain it "
                             f"(./smrl train-policy --observation self_model)")
        return self_model

    @property
    def num_keypoints(self) -> int:
        return self.detector.num_keypoints

    def save_evidence(self, path: Path | str) -> Path:
        """The labeller's samples as a file the self model node starts from (its `self_evidence`), so
        that on the robot the policy meets the labels it was trained on."""
        return self.labeller.save_evidence(path, self.keypoint_model_sha256, source=self.dataset)

    def observe(self, rgb: np.ndarray, joint_positions: np.ndarray) -> np.ndarray:
        """One frame (H, W, 3) uint8 and the joints (n arm + g gripper) -> the self-model observation."""
        keypoints = self.detector.detect(rgb)
        labels = self.labeller.frame_labels(keypoints.normalised, np.asarray(joint_positions)[:self.num_arm_joints])
        return self_model_observation(joint_positions, keypoints.normalised, keypoints.intensities, labels)


class SelfModelObservation(gym.ObservationWrapper):
    """Observation = `FrozenSelfModel.observe(rgb, joint_positions)`: pixels and joints only."""

    def __init__(self, env: gym.Env, self_model: FrozenSelfModel) -> None:
        super().__init__(env)
        self.self_model = self_model
        size = observation_size(env.observation_space["joint_positions"].shape[0], self_model.num_keypoints)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def observation(self, observation: dict) -> np.ndarray:
        return self.self_model.observe(observation["rgb"], observation["joint_positions"])


class BlankedKeypoints(gym.ObservationWrapper):
    """A self-model observation with some keypoints held at the image centre
    (`blank_keypoint_positions`): evaluation's check of which keypoints a policy steers by."""

    def __init__(self, env: SelfModelObservation, keypoints: tuple[int, ...]) -> None:
        super().__init__(env)
        self.num_keypoints = env.self_model.num_keypoints
        self.keypoints = tuple(keypoints)
        blank_keypoint_positions(np.zeros(env.observation_space.shape), self.num_keypoints, self.keypoints)  # checks them

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return blank_keypoint_positions(observation, self.num_keypoints, self.keypoints)


class BlindObservation(gym.ObservationWrapper):
    """Observation = the joint positions (n arm + g gripper), nothing from the camera or the world."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space["joint_positions"]

    def observation(self, observation: dict) -> np.ndarray:
        return observation["joint_positions"]


def make_env(task: str = "touch", observation: str = "privileged", self_model: FrozenSelfModel | None = None,
             scripted_grasp: bool = False, blank_keypoints: tuple[int, ...] = (), **env_kwargs: Any) -> gym.Env:
    """SmrlEnv with the named observation wrapper: joint_delta actions, or when `scripted_grasp`
    the scripted grasp's dx, dy, d-yaw ones. `blank_keypoints` (self_model only): keypoints whose
    positions the policy sees at the image centre (BlankedKeypoints)."""
    if observation not in OBSERVATION_KINDS:
        raise ValueError(f"unknown observation {observation!r}; known: {OBSERVATION_KINDS}")
    if blank_keypoints and observation != "self_model":
        raise ValueError(f"blank_keypoints is for the self_model observation, not {observation!r}")
    if scripted_grasp:
        env = ScriptedGrasp(SmrlEnv(task=task, action_mode="ee_delta", **env_kwargs))
    else:
        env = SmrlEnv(task=task, **env_kwargs)
    if observation == "privileged":
        return PrivilegedObservation(env)
    if observation == "blind":
        return BlindObservation(env)
    if self_model is None:
        raise ValueError("the self_model observation needs a FrozenSelfModel")
    import torch
    torch.set_num_threads(1)   # one env process per core
    wrapped = SelfModelObservation(env, self_model)
    if not blank_keypoints:
        return wrapped
    try:
        return BlankedKeypoints(wrapped, blank_keypoints)
    except ValueError:
        wrapped.close()  # its simulator, before the error leaves
        raise


def make_vector_env(num_envs: int, task: str = "touch", observation: str = "privileged",
                    self_model: FrozenSelfModel | None = None, scripted_grasp: bool = False,
                    **env_kwargs: Any) -> gym.vector.VectorEnv:
    """`num_envs` wrapped copies: one process each when more than one (rendering is CPU-bound)."""
    factories = [lambda: make_env(task, observation, self_model, scripted_grasp, **env_kwargs) for _ in range(num_envs)]
    return gym.vector.AsyncVectorEnv(factories) if num_envs > 1 else gym.vector.SyncVectorEnv(factories)
