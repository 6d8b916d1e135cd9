"""The active-inference agent: joint changes chosen by minimising expected free energy (EFE) under
the learned forward model, planned by the cross-entropy method (Tschantz et al. 2020, "Reinforcement
learning through active inference"; the agent has no weights of its own).

What it believes. The forward model (smrl_self_model.core.forward_model) is an ensemble of M MLPs
f_m(s, a) -> next self state, s = (self keypoints c (K_self, 2), joints q (n,)), a = the commanded
joint change (rad) = action * max_joint_delta_rad. Each member is read as a Gaussian over the next
self keypoints in pixels, N(mu_m, sigma_o^2 I), sigma_o = `prediction_std_px` (the members output
means only; ~1 px is their one-step error). The predictive distribution is their equally weighted
mixture, replaced by its moment-matched Gaussian N(mu, Sigma): mu = mean_m mu_m,
Sigma = sigma_o^2 I + diag(Var_m mu_m).

What it prefers. A prior preference over observations: the hand keypoint o_h (px) near the goal g
(px), log p~(o) = -|o_h - g|^2 / (2 sigma_p^2) + const, sigma_p = `preference_std_px`.

The objective. For an action sequence pi = (a_1 .. a_H) from the current state s_0, with the
predicted states rolled forward through the ensemble mean (s_t = mean_m f_m(s_{t-1}, a_t)):

    G(pi) = sum_{t=1..H} [ extrinsic_t - w * information_gain_t ]

    extrinsic_t        = -E_{Q(o_t | pi)}[log p~(o_t)] - const
                       = ( |mu_{t,h} - g|^2 + tr Sigma_{t,h} ) / (2 sigma_p^2)
    information_gain_t = H[ N(mu_t, Sigma_t) ] - mean_m H[ N(mu_{t,m}, sigma_o^2 I) ]
                       = 1/2 sum_{d over all 2 K_self coordinates} log(1 + Var_m mu_{t,m,d} / sigma_o^2)

(h = the hand keypoint's two coordinates; w = `information_gain_weight`, 1 in the paper.)
The information gain is the mutual information between the next observation and the ensemble member
(the model parameters), with the mixture's entropy taken at its moment-matched Gaussian: exactly 0
when the members agree, growing with their disagreement. Without a goal (no world keypoint in
view, no pixel goal) the extrinsic term is dropped and the agent plans for information alone.

Variant `preferred_keypoints="any"` (touch needs any link at the object): the preference is the
mixture p~(o) = 1/K_self sum_k N(o_k; g, sigma_p^2 I), and extrinsic_t is taken as
-log(1/K_self sum_k exp(-extrinsic_{t,k})) with extrinsic_{t,k} the term above for keypoint k: an
upper bound on -E[log p~(o_t)] (Jensen: -logsumexp(-x) is concave in x).

The agent minimises G(pi) plus a Gaussian prior over policies (the habit term of active inference,
-log p(pi) = sum_t |a_t|^2 / (2 sigma_a^2) + const, sigma_a = `action_prior_std`, in action units):

    F(pi) = G(pi) + sum_{t=1..H} |a_t|^2 / (2 sigma_a^2)          (sigma_a = 0: no prior, F = G)

Without it (sigma_a = 0) nothing in G constrains the joint motions that leave the hand's pixel where
it is (one camera: depth and the arm's null space), and the arm drifted away from the object in
failing episodes (docs/active_inference.md: 83 % touches with the oracle goal without the prior,
99 % with sigma_a = 0.5).

Planning: CEM over pi in [-1, 1]^(H x n) (`PlannerConfig`: horizon, population, elites,
iterations), from a zero mean (or, with `warm_start`, the last plan shifted by one step);
the first action of the final mean is executed. The gripper value is fixed (`gripper_action`).

Where the goal comes from (`goal_from_observation`): the keypoint labelled WORLD in this frame
with the highest intensity: with the shipped keypoint model, the keypoint on the task object
(smrl_perception/models/README.md; a median 1.3-2.6 px from it, but it jumps now and then). For
testing planner and forward model apart from perception, `goal_px` may be given instead
(an ORACLE goal when it comes from the simulator's privileged object position).

Which self keypoint is the hand (`hand_keypoint_from_body_schema`): from the agent's own body
schema, the self keypoint whose image position moves most when the joints move (the largest summed
|d keypoint / d q_j| around the schema's mean training pose): the end of a kinematic chain moves
with every joint and the furthest from each. Never privileged state.

Shapes: P = population, H = horizon, M = members, K = self keypoints, n = arm joints.
"""
from __future__ import annotations

import importlib.resources
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from smrl_common.core.pixel_coordinates import pixels_to_normalised
from smrl_policy.core.observation import VALUES_PER_KEYPOINT
from smrl_self_model.core.body_schema import BodySchema, load_shipped_body_schema
from smrl_self_model.core.forward_model import ForwardModel
from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file

FORMAT_NAME = "smrl_policy.active_inference"   # the line for smrl_policy.core.policy's POLICY_FORMATS
FORMAT_VERSION = 1
SHIPPED_FORWARD_MODEL = "forward_model.pt"   # in smrl_self_model/models


@dataclass(frozen=True)
class PlannerConfig:
    """Cross-entropy method over action sequences."""
    horizon: int = 5               # planned steps (0.1 s each in the env)
    population: int = 128          # sequences evaluated per iteration
    elites: int = 16               # best sequences that refit the sampling distribution
    iterations: int = 4
    initial_std: float = 0.6       # of each action value, in action units ([-1, 1])
    min_std: float = 0.05
    warm_start: bool = False       # start from the last plan shifted by one step (history-dependent)
    seed: int = 0                  # the sampler is reseeded every act: same observation, same action


@dataclass(frozen=True)
class ActiveInferenceConfig:
    forward_model_path: str = ""          # empty: the forward model shipped with smrl_self_model
    body_schema_path: str = ""            # empty: the shipped body schema
    observed_joint_counts: tuple[int, ...] = (7, 9)   # joints in the observation, arm first: the arm's alone
                                                      # (the policy node) or with the fingers' (the env, TD3)
    image_size_px: tuple[int, int] = (64, 64)   # (W, H) of the keypoint model's images
    max_joint_delta_rad: float = 0.15     # the env's action scale
    preference_std_px: float = 4.0        # sigma_p of the prior preference
    prediction_std_px: float = 1.0        # sigma_o of each member's Gaussian
    information_gain_weight: float = 1.0  # w
    gripper_action: float = 1.0           # > 0 open, <= 0 closed
    hand_keypoint: int = -1               # position among the forward model's self keypoints; -1: from the body schema
    action_prior_std: float = 0.5         # sigma_a of the Gaussian prior over policies; 0: none (F = G)
    preferred_keypoints: str = "hand"     # "hand": the hand at the goal; "any": any self keypoint (variant)
    planner: PlannerConfig = field(default_factory=PlannerConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ActiveInferenceConfig":
        data = dict(data)
        planner = PlannerConfig(**data.pop("planner", {}))
        for name in ("image_size_px", "observed_joint_counts"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data, planner=planner)


# --- the pieces of the objective ------------------------------------------------------------------

def information_gain(member_means: torch.Tensor, member_std: float) -> torch.Tensor:
    """(M, ..., D) members' predicted means, each member N(mean, member_std^2 I) -> (...,) nats:
    H[moment-matched mixture] - mean_m H[member m] = 1/2 sum_d log(1 + Var_m mean_d / member_std^2)."""
    variance = (member_means - member_means.mean(dim=0)).square().mean(dim=0)
    return 0.5 * torch.log1p(variance / member_std**2).sum(dim=-1)


def extrinsic_cost(mean_px: torch.Tensor, variance_px: torch.Tensor, goal_px: torch.Tensor,
                   preference_std_px: float) -> torch.Tensor:
    """-E[log p~(o)] up to a constant for o ~ N(mean, diag variance), p~ = N(goal, sigma_p^2 I):
    (..., 2), (..., 2), (2,) -> (...,) = (|mean - goal|^2 + sum variance) / (2 sigma_p^2)."""
    return (((mean_px - goal_px) ** 2).sum(-1) + variance_px.sum(-1)) / (2 * preference_std_px**2)


def cem_minimise(cost: Callable[[torch.Tensor], torch.Tensor], mean: torch.Tensor, config: PlannerConfig,
                 generator: torch.Generator) -> torch.Tensor:
    """Minimise cost((P, H, A) sequences in [-1, 1]) -> (P,) over sequences, starting at mean (H, A);
    returns the final mean (H, A)."""
    std = torch.full_like(mean, config.initial_std)
    for _ in range(config.iterations):
        noise = torch.randn((config.population, *mean.shape), generator=generator, dtype=mean.dtype)
        samples = (mean + std * noise).clamp(-1.0, 1.0)
        samples[0] = mean.clamp(-1.0, 1.0)  # the current mean always competes
        elites = samples[torch.topk(cost(samples), config.elites, largest=False).indices]
        mean = elites.mean(dim=0)
        std = elites.std(dim=0, unbiased=False).clamp(min=config.min_std)
    return mean


# --- reading the observation ----------------------------------------------------------------------

@dataclass(frozen=True)
class ParsedObservation:
    joint_positions: np.ndarray   # (n_obs,)
    centers_norm: np.ndarray      # (K, 2)
    intensities: np.ndarray       # (K,)
    is_self: np.ndarray           # (K,) bool
    is_world: np.ndarray          # (K,) bool


def parse_observation(observation: np.ndarray, joint_counts: int | tuple[int, ...],
                      num_keypoints: int) -> ParsedObservation:
    """The flat self-model observation (smrl_policy.core.observation) -> its parts; ValueError unless it
    is a finite vector of n + 5 num_keypoints values, n one of `joint_counts`."""
    observation = np.asarray(observation, dtype=np.float64)
    joint_counts = (joint_counts,) if isinstance(joint_counts, int) else tuple(joint_counts)
    sizes = [n + VALUES_PER_KEYPOINT * num_keypoints for n in joint_counts]
    if observation.ndim != 1 or observation.shape[0] not in sizes:
        raise ValueError(f"expected an observation of shape ({' or '.join(map(str, sizes))},) ({joint_counts} joints + "
                         f"{VALUES_PER_KEYPOINT} x {num_keypoints} keypoint values), got {observation.shape}")
    if not np.isfinite(observation).all():
        raise ValueError("observation contains NaN or inf")
    num_joints = observation.shape[0] - VALUES_PER_KEYPOINT * num_keypoints
    per_keypoint = observation[num_joints:].reshape(num_keypoints, VALUES_PER_KEYPOINT)
    return ParsedObservation(joint_positions=observation[:num_joints], centers_norm=per_keypoint[:, :2],
                             intensities=per_keypoint[:, 2], is_self=per_keypoint[:, 3] > 0.5,
                             is_world=per_keypoint[:, 4] > 0.5)


def goal_from_observation(parsed: ParsedObservation) -> int | None:
    """The index of the brightest keypoint labelled WORLD in this frame; None when there is none."""
    if not parsed.is_world.any():
        return None
    return int(np.argmax(np.where(parsed.is_world, parsed.intensities, -np.inf)))


def hand_keypoint_from_body_schema(schema: BodySchema, num_poses: int = 64, spread_rad: float = 0.3,
                                   step_rad: float = 0.01, seed: int = 0) -> int:
    """Position (in the schema's self keypoints) of the one that moves most with the joints: per
    keypoint, the summed |d keypoint / d q_j| (finite differences), averaged over poses around the
    schema's mean training pose.

    An earlier rule, the largest influence-weighted mean joint index ("depends most on the distal
    joints"), picked the right keypoint for round 1's body keypoints but, for round 3's, whose
    influence profiles barely differ, one 15 px from the end effector (7/100 touches with the oracle
    goal, docs/active_inference.md); this one picks the keypoint nearest the hand for both."""
    features_mean = schema.network.input_mean.numpy().astype(np.float64)
    n = schema.num_joints
    mean_pose = np.arctan2(features_mean[:n], features_mean[n:])   # features are sin q, cos q
    poses = mean_pose + np.random.default_rng(seed).normal(0.0, spread_rad, (num_poses, n))
    shifted = poses[:, None, :] + step_rad * np.eye(n)[None]       # (poses, n, n)
    base = schema.predict(poses)                                   # (poses, K, 2)
    moved = schema.predict(shifted.reshape(-1, n)).reshape(num_poses, n, -1, 2)
    influence = np.linalg.norm(moved - base[:, None], axis=-1).mean(axis=0)  # (n, K)
    return int(np.argmax(influence.sum(axis=0)))


class FoldedEnsemble:
    """The forward model's EnsembleMLP with its input and target standardisation folded into the
    first and last layers, the same inputs for every member: (B, D_in) -> (M, B, D_out), as
    `EnsembleMLP.forward` computes it, in three batched products (no copies of the inputs per member)."""

    def __init__(self, network: torch.nn.Module) -> None:
        with torch.no_grad():
            weights = [w.detach().clone() for w in network.weights]   # (M, D_in, D_out) each
            biases = [b.detach().clone() for b in network.biases]     # (M, 1, D_out)
            scale = 1.0 / network.input_std                          # (D_in,)
            biases[0] = biases[0] - ((network.input_mean * scale) @ weights[0])[:, None, :]
            weights[0] = weights[0] * scale[:, None]
            weights[-1] = weights[-1] * network.target_std
            biases[-1] = biases[-1] * network.target_std + network.target_mean
        self.weights, self.biases = weights, biases

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        x = torch.matmul(inputs, self.weights[0]) + self.biases[0]   # (B, D) @ (M, D, H) -> (M, B, H)
        for weight, bias in zip(self.weights[1:], self.biases[1:]):
            x = torch.baddbmm(bias, torch.nn.functional.silu(x), weight)
        return x


def load_shipped_forward_model() -> ForwardModel:
    resource = importlib.resources.files("smrl_self_model") / "models" / SHIPPED_FORWARD_MODEL
    with importlib.resources.as_file(resource) as path:
        return ForwardModel.load(path)


# --- the agent ------------------------------------------------------------------------------------

class ActiveInferenceAgent:
    """A `Policy` (smrl_policy.core.policy) on the "self_model" observation.

    `goal_px`: None (default) takes the goal from the observation's world keypoints; a (u, v) pixel
    pair overrides it (an oracle goal when it comes from privileged state: say so in results).
    """

    observation_kind = "self_model"

    def __init__(self, config: ActiveInferenceConfig | None = None, forward_model: ForwardModel | None = None,
                 body_schema: BodySchema | None = None) -> None:
        self.config = config = config or ActiveInferenceConfig()
        self.max_joint_delta_rad = config.max_joint_delta_rad
        self.forward_model = forward_model or (ForwardModel.load(config.forward_model_path)
                                               if config.forward_model_path else load_shipped_forward_model())
        self.network = FoldedEnsemble(self.forward_model.network.eval())
        if min(config.observed_joint_counts) < self.forward_model.num_joints:
            raise ValueError(f"observations of {config.observed_joint_counts} joints, but the forward model takes "
                             f"{self.forward_model.num_joints}")
        self.self_keypoint_indices = list(self.forward_model.self_keypoint_indices)
        if config.hand_keypoint >= 0:
            if config.hand_keypoint >= len(self.self_keypoint_indices):
                raise ValueError(f"hand_keypoint {config.hand_keypoint} of {len(self.self_keypoint_indices)}")
            self.hand = config.hand_keypoint
        else:
            schema = body_schema or (BodySchema.load(config.body_schema_path) if config.body_schema_path
                                     else load_shipped_body_schema())
            if list(schema.self_keypoint_indices) != self.self_keypoint_indices:
                raise ValueError(f"body schema keypoints {schema.self_keypoint_indices} differ from the forward "
                                 f"model's {self.self_keypoint_indices}")
            self.hand = hand_keypoint_from_body_schema(schema)
        if config.preferred_keypoints not in ("hand", "any"):
            raise ValueError(f"preferred_keypoints must be 'hand' or 'any', got {config.preferred_keypoints!r}")
        self._preferred = ([self.hand] if config.preferred_keypoints == "hand"
                           else list(range(len(self.self_keypoint_indices))))   # positions among the self keypoints
        width, height = config.image_size_px
        self._px_per_norm = torch.tensor([width / 2.0, height / 2.0])
        self.goal_px: np.ndarray | None = None
        self._plan: torch.Tensor | None = None
        self.last_goal_keypoint: int | None = None   # which keypoint was the goal last act (None: pixel goal or none)
        self.last_plan_ms = 0.0

    @property
    def num_actions(self) -> int:
        return self.forward_model.num_joints + 1

    @property
    def hand_keypoint_index(self) -> int:
        """The hand's index among all K keypoints of the keypoint model."""
        return self.self_keypoint_indices[self.hand]

    def reset(self) -> None:
        """Forget the last plan (between episodes, with `warm_start`)."""
        self._plan = None

    def expected_free_energy(self, sequences: torch.Tensor, self_keypoints_norm: torch.Tensor,
                             joints_rad: torch.Tensor, goal_norm: torch.Tensor | None) -> torch.Tensor:
        """F = G + the policy prior, of each (P, H, n) action sequence from self keypoints (K, 2) normalised
        and joints (n,) rad -> (P,)."""
        cfg = self.config
        population, horizon, _ = sequences.shape
        keypoints = self_keypoints_norm.expand(population, -1, -1)   # (P, K, 2)
        joints = joints_rad.expand(population, -1)                  # (P, n)
        num_coordinates = keypoints.shape[1] * 2
        goal_px = None if goal_norm is None else goal_norm * self._px_per_norm
        total = torch.zeros(population)
        for t in range(horizon):
            command = sequences[:, t] * cfg.max_joint_delta_rad
            inputs = torch.cat([keypoints.reshape(population, -1), torch.sin(joints), torch.cos(joints), command], -1)
            changes = self.network(inputs)                          # (M, P, 2K + n)
            member_keypoints = keypoints + changes[..., :num_coordinates].reshape(*changes.shape[:2], -1, 2)
            member_px = member_keypoints * self._px_per_norm        # (M, P, K, 2)
            total -= cfg.information_gain_weight * information_gain(
                member_px.reshape(*member_px.shape[:2], -1), cfg.prediction_std_px)
            if goal_px is not None:
                preferred_px = member_px[:, :, self._preferred]       # (M, P, K', 2)
                preferred_mean = preferred_px.mean(dim=0)
                variance = (preferred_px - preferred_mean).square().mean(dim=0) + cfg.prediction_std_px**2
                costs = extrinsic_cost(preferred_mean, variance, goal_px, cfg.preference_std_px)   # (P, K')
                total += -torch.logsumexp(-costs, dim=-1) + math.log(costs.shape[-1])
            keypoints = member_keypoints.mean(dim=0)
            joints = joints + changes[..., num_coordinates:].mean(dim=0)
        if cfg.action_prior_std > 0:
            total += sequences.square().sum(dim=(1, 2)) / (2 * cfg.action_prior_std**2)
        return total

    def plan(self, self_keypoints_norm: np.ndarray, joints_rad: np.ndarray,
             goal_norm: np.ndarray | None) -> torch.Tensor:
        """The CEM plan (H, n) in action units from self keypoints (K_self, 2), arm joints (n,), goal (2,) or None."""
        cfg = self.config.planner
        keypoints = torch.as_tensor(self_keypoints_norm, dtype=torch.float32)
        joints = torch.as_tensor(joints_rad, dtype=torch.float32)
        goal = None if goal_norm is None else torch.as_tensor(goal_norm, dtype=torch.float32)
        mean = torch.zeros(cfg.horizon, self.forward_model.num_joints)
        if cfg.warm_start and self._plan is not None:
            mean[:-1] = self._plan[1:]
        generator = torch.Generator().manual_seed(cfg.seed)
        with torch.no_grad():
            plan = cem_minimise(lambda s: self.expected_free_energy(s, keypoints, joints, goal), mean, cfg, generator)
        self._plan = plan
        return plan

    def act(self, observation: np.ndarray) -> np.ndarray:
        """(n_observed + 5 K,) self-model observation -> (n + 1,) action in [-1, 1]; n_observed one of
        `observed_joint_counts`, the arm's joints first."""
        started = time.perf_counter()
        parsed = parse_observation(observation, self.config.observed_joint_counts, self.forward_model.num_keypoints)
        if self.goal_px is not None:
            width, height = self.config.image_size_px
            goal_norm = pixels_to_normalised(np.asarray(self.goal_px, dtype=np.float64), width, height)
            self.last_goal_keypoint = None
        else:
            self.last_goal_keypoint = goal_from_observation(parsed)
            goal_norm = None if self.last_goal_keypoint is None else parsed.centers_norm[self.last_goal_keypoint]
        plan = self.plan(parsed.centers_norm[self.self_keypoint_indices],
                         parsed.joint_positions[:self.forward_model.num_joints], goal_norm)
        action = np.append(plan[0].numpy(), self.config.gripper_action).astype(np.float32)
        self.last_plan_ms = 1000.0 * (time.perf_counter() - started)
        return np.clip(action, -1.0, 1.0)

    def predicted_hand_px(self, observation: np.ndarray, action: np.ndarray) -> np.ndarray:
        """The ensemble-mean next position (u, v) px of the hand keypoint after `action` (diagnostics, tests)."""
        parsed = parse_observation(observation, self.config.observed_joint_counts, self.forward_model.num_keypoints)
        n = self.forward_model.num_joints
        keypoints, _ = self.forward_model.predict(parsed.centers_norm[self.self_keypoint_indices],
                                                  parsed.joint_positions[:n],
                                                  np.asarray(action[:n], dtype=np.float64) * self.max_joint_delta_rad)
        width, height = self.config.image_size_px
        return (keypoints[self.hand] + 1.0) / 2.0 * np.array([width, height]) - 0.5

    # --- Policy: save / load ----------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """A model file (smrl_self_model.core.model_file, format "smrl_policy.active_inference") holding
        the config, which names the forward model and body schema files; no weights of its own."""
        config = json.loads(json.dumps(self.config.to_dict()))   # tuples -> lists: plain metadata
        return save_model_file(path, FORMAT_NAME, FORMAT_VERSION, config, {})

    @classmethod
    def load(cls, path: Path | str) -> "ActiveInferenceAgent":
        """The agent of a file written by `save` (its forward model and body schema loaded from the files
        it names); ModelFileError when it is not one."""
        return cls(cls.load_config(path))

    @staticmethod
    def load_config(path: Path | str) -> ActiveInferenceConfig:
        metadata, _ = load_model_file(path, FORMAT_NAME, FORMAT_VERSION)
        try:
            return ActiveInferenceConfig.from_dict(metadata)
        except (KeyError, TypeError) as error:
            raise ModelFileError(path, f"metadata do not fit ActiveInferenceConfig ({error})") from None
