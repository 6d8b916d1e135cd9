"""TD3 (Fujimoto et al. 2018), readable top to bottom in the manner of CleanRL's
`td3_continuous_action.py`; DDPG (Lillicrap et al. 2016) is the same algorithm configured with one
critic, no target policy smoothing and no delay (`TD3Config.ddpg()`), not a second module.

    actor      mu(o) = tanh(MLP(o))                       (B, obs) -> (B, act) in [-1, 1]
    critics    Q_i(o, a) = MLP([o, a]), i < num_critics    (B, obs), (B, act) -> (num_critics, B)
    target     y = r + gamma (1 - terminated) min_i Q'_i(o', clip(mu'(o') + clip(N(0, s), -c, c), -1, 1))
    critic     sum_i MSE(Q_i(o, a), y)                    every update
    actor      -mean Q_0(o, mu(o))                        every `policy_delay` updates, then Polyak targets

Episodes that end by time (truncated) bootstrap; only `terminated` (success) cuts the return. The
loop steps a gymnasium vector env (its default NEXT_STEP autoreset: the step after an episode's end
only resets that copy, so its transition is not stored). One gradient update per env transition
(`num_envs` per vector step) once `learning_starts` transitions are in the buffer.

The trained actor is a `TD3Policy` (the shared `Policy` interface, smrl_policy.core.policy): it acts
deterministically and saves to / loads from a versioned policy file (`FORMAT_NAME`).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file

FORMAT_NAME = "smrl_policy.td3"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TD3Config:
    """Every setting of one run; the defaults are TD3's (CleanRL's), `ddpg()` gives DDPG's."""

    algo: str = "td3"                  # a name for logs and files: "td3" or "ddpg"
    num_critics: int = 2               # 2: clipped double Q (TD3); 1: DDPG
    target_policy_noise: float = 0.2   # std of the smoothing noise on the target action (0: none)
    target_noise_clip: float = 0.5
    policy_delay: int = 2              # critic updates per actor (and target) update
    exploration_noise: float = 0.1     # std of the Gaussian noise on actions while collecting
    gamma: float = 0.98
    tau: float = 0.005                 # Polyak step of the target networks
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    hidden: int = 256
    batch_size: int = 256
    buffer_size: int = 200_000
    learning_starts: int = 2_000       # env transitions of uniform random actions first
    total_steps: int = 30_000          # env transitions (all envs together)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_critics < 1 or self.policy_delay < 1:
            raise ValueError("num_critics and policy_delay must be >= 1")
        if self.batch_size > self.buffer_size:
            raise ValueError("batch_size must not exceed buffer_size")

    @classmethod
    def ddpg(cls, **overrides) -> TD3Config:
        """DDPG: one critic, no target smoothing, the actor updated every step."""
        return cls(**{"algo": "ddpg", "num_critics": 1, "target_policy_noise": 0.0, "policy_delay": 1, **overrides})

    @classmethod
    def for_algo(cls, algo: str, **overrides) -> TD3Config:
        if algo == "td3":
            return cls(**overrides)
        if algo == "ddpg":
            return cls.ddpg(**overrides)
        raise ValueError(f"unknown algo {algo!r}; known: td3, ddpg")


# --- networks ----------------------------------------------------------------------------------
def mlp(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


class Actor(nn.Module):
    """(B, obs) -> (B, act) in [-1, 1] (the env's action box)."""

    def __init__(self, observation_size: int, action_size: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(observation_size, action_size, hidden)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(observations))


class Critics(nn.Module):
    """`num_critics` independent Q networks: (B, obs), (B, act) -> (num_critics, B)."""

    def __init__(self, observation_size: int, action_size: int, hidden: int, num_critics: int) -> None:
        super().__init__()
        self.q = nn.ModuleList(mlp(observation_size + action_size, 1, hidden) for _ in range(num_critics))

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([observations, actions], dim=1)
        return torch.stack([q(inputs).squeeze(1) for q in self.q])


# --- replay buffer -----------------------------------------------------------------------------
class ReplayBuffer:
    """A ring of the last `capacity` transitions (o, a, r, o', terminated), float32."""

    def __init__(self, capacity: int, observation_size: int, action_size: int, seed: int) -> None:
        self.capacity = capacity
        self.observations = np.zeros((capacity, observation_size), np.float32)
        self.next_observations = np.zeros((capacity, observation_size), np.float32)
        self.actions = np.zeros((capacity, action_size), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.size = 0
        self._next = 0
        self.rng = np.random.default_rng(seed)

    def add(self, observation, action, reward, next_observation, terminated) -> None:
        i = self._next
        self.observations[i], self.actions[i], self.rewards[i] = observation, action, reward
        self.next_observations[i], self.terminated[i] = next_observation, terminated
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        index = self.rng.integers(0, self.size, batch_size)
        return tuple(torch.as_tensor(array[index]) for array in (
            self.observations, self.actions, self.rewards, self.next_observations, self.terminated))


# --- the trained policy ------------------------------------------------------------------------
class TD3Policy:
    """A trained actor behind the shared `Policy` interface (also what DDPG trains)."""

    def __init__(self, actor: Actor, observation_size: int, action_size: int, observation_kind: str,
                 max_joint_delta_rad: float, metadata: dict | None = None) -> None:
        self.actor = actor.eval()
        self.observation_size = observation_size
        self.action_size = action_size
        self.observation_kind = observation_kind
        self.max_joint_delta_rad = max_joint_delta_rad
        self.metadata = dict(metadata or {})   # algo, task, env steps, ...: plain values only

    def act(self, observation: np.ndarray) -> np.ndarray:
        observation = np.asarray(observation, dtype=np.float32)
        if observation.shape != (self.observation_size,):
            raise ValueError(f"observation of shape {observation.shape}, this policy takes ({self.observation_size},) "
                             f"({self.observation_kind})")
        if not np.isfinite(observation).all():
            raise ValueError("observation contains NaN or inf")
        with torch.no_grad():
            return self.actor(torch.as_tensor(observation)[None])[0].numpy()

    def save(self, path: Path | str) -> Path:
        metadata = {**self.metadata, "observation_size": self.observation_size, "action_size": self.action_size,
                    "observation_kind": self.observation_kind, "max_joint_delta_rad": self.max_joint_delta_rad,
                    "hidden": self.actor.net[0].out_features}
        return save_model_file(path, FORMAT_NAME, FORMAT_VERSION, metadata, self.actor.state_dict())

    @classmethod
    def load(cls, path: Path | str) -> TD3Policy:
        """Raises ModelFileError (naming file and reason) for missing, foreign or broken files."""
        metadata, state_dict = load_model_file(path, FORMAT_NAME, FORMAT_VERSION)
        try:
            actor = Actor(int(metadata["observation_size"]), int(metadata["action_size"]), int(metadata["hidden"]))
            actor.load_state_dict(state_dict)
            return cls(actor, int(metadata["observation_size"]), int(metadata["action_size"]),
                       str(metadata["observation_kind"]), float(metadata["max_joint_delta_rad"]), metadata)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(path, f"invalid policy file ({str(error).splitlines()[0]})") from None


# --- the learner -------------------------------------------------------------------------------
class TD3:
    """Networks, targets and optimizers, and one gradient update."""

    def __init__(self, config: TD3Config, observation_size: int, action_size: int) -> None:
        self.config = config
        torch.manual_seed(config.seed)
        self.actor = Actor(observation_size, action_size, config.hidden)
        self.critics = Critics(observation_size, action_size, config.hidden, config.num_critics)
        self.actor_target = copy.deepcopy(self.actor)
        self.critics_target = copy.deepcopy(self.critics)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=config.critic_lr)
        self.updates = 0

    def update(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        cfg = self.config
        observations, actions, rewards, next_observations, terminated = batch
        with torch.no_grad():
            next_actions = self.actor_target(next_observations)
            if cfg.target_policy_noise > 0:  # target policy smoothing
                noise = (torch.randn_like(next_actions) * cfg.target_policy_noise).clamp(
                    -cfg.target_noise_clip, cfg.target_noise_clip)
                next_actions = (next_actions + noise).clamp(-1.0, 1.0)
            next_q = self.critics_target(next_observations, next_actions).min(dim=0).values  # clipped double Q
            target_q = rewards + cfg.gamma * (1.0 - terminated) * next_q
        q = self.critics(observations, actions)
        critic_loss = F.mse_loss(q, target_q.expand_as(q), reduction="none").mean(dim=1).sum()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        self.updates += 1
        metrics = {"critic_loss": critic_loss.item(), "q": q[0].mean().item()}
        if self.updates % cfg.policy_delay == 0:  # delayed actor and target updates
            actor_loss = -self.critics(observations, self.actor(observations))[0].mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            with torch.no_grad():
                for net, target in ((self.actor, self.actor_target), (self.critics, self.critics_target)):
                    for p, p_target in zip(net.parameters(), target.parameters()):
                        p_target.lerp_(p, cfg.tau)
            metrics["actor_loss"] = actor_loss.item()
        return metrics

    def policy(self, observation_kind: str, max_joint_delta_rad: float, metadata: dict | None = None) -> TD3Policy:
        """A copy of the current actor as a `Policy` (training goes on unaffected)."""
        size = self.actor.net[0].in_features
        return TD3Policy(copy.deepcopy(self.actor), size, self.actor.net[-1].out_features, observation_kind,
                         max_joint_delta_rad, {"algo": self.config.algo, **(metadata or {})})


@dataclass
class StepReport:
    """What `learn` tells its callback after each vector step."""

    env_steps: int                     # transitions so far, all envs together
    finished_returns: list[float]      # episodes that ended in this step
    finished_successes: list[bool]
    metrics: dict[str, float]          # of the last update (empty before learning starts)
    wall_s: float


def learn(config: TD3Config, envs: gym.vector.VectorEnv,
          callback: Callable[[TD3, StepReport], None] | None = None) -> TD3:
    """Train on `envs` (flat Box observations, actions in [-1, 1]) for `config.total_steps` transitions."""
    num_envs = envs.num_envs
    observation_size = envs.single_observation_space.shape[0]
    action_size = envs.single_action_space.shape[0]
    agent = TD3(config, observation_size, action_size)
    buffer = ReplayBuffer(config.buffer_size, observation_size, action_size, config.seed)
    rng = np.random.default_rng(config.seed)
    envs.single_action_space.seed(config.seed)
    started = time.perf_counter()

    observations, _ = envs.reset(seed=config.seed)
    just_reset = np.zeros(num_envs, dtype=bool)   # NEXT_STEP autoreset: this step only resets that copy
    episode_returns = np.zeros(num_envs)
    env_steps, metrics = 0, {}
    while env_steps < config.total_steps:
        # 1. act: uniform random at first, then the actor plus Gaussian exploration noise
        if env_steps < config.learning_starts:
            actions = rng.uniform(-1.0, 1.0, (num_envs, action_size)).astype(np.float32)
        else:
            with torch.no_grad():
                actions = agent.actor(torch.as_tensor(observations, dtype=torch.float32)).numpy()
            actions = np.clip(actions + rng.normal(0.0, config.exploration_noise, actions.shape), -1, 1)
            actions = actions.astype(np.float32)

        # 2. step the envs and store the transitions that are real (not the autoreset steps)
        next_observations, rewards, terminated, truncated, infos = envs.step(actions)
        finished_returns, finished_successes = [], []
        for i in range(num_envs):
            if just_reset[i]:
                episode_returns[i] = 0.0
                continue
            buffer.add(observations[i], actions[i], rewards[i], next_observations[i], terminated[i])
            env_steps += 1
            episode_returns[i] += rewards[i]
            if terminated[i] or truncated[i]:
                finished_returns.append(float(episode_returns[i]))
                finished_successes.append(bool(infos["is_success"][i]))
        just_reset = np.logical_or(terminated, truncated)
        observations = next_observations

        # 3. learn: one update per stored transition
        if env_steps >= config.learning_starts:
            for _ in range(num_envs):
                metrics = agent.update(buffer.sample(config.batch_size))
        if callback is not None:
            callback(agent, StepReport(env_steps, finished_returns, finished_successes, metrics,
                                       time.perf_counter() - started))
    return agent
