"""Judging a policy: success over fixed, seeded episodes, with a Wilson score interval.

Episode i of an evaluation is `env.reset(seed=first_seed + i)`, so every policy meets the same
object placements and start poses. Success is the env's `info["is_success"]` (touch: contact;
pick: grasped and lifted), read from the simulator's ground truth the policy never sees. An
episode's length is in env steps (0.1 s), a scripted grasp's included.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from smrl_policy.core.policy import Policy


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % for the default z)."""
    if trials <= 0:
        raise ValueError("no trials")
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes of {trials} trials")
    p = successes / trials
    denominator = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class EvaluationResult:
    successes: list[bool] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.successes)

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.successes)) if self.successes else float("nan")

    def summary(self) -> dict:
        low, high = wilson_interval(int(sum(self.successes)), self.episodes)
        return {"episodes": self.episodes, "successes": int(sum(self.successes)),
                "success_rate": round(self.success_rate, 4), "ci95_low": round(low, 4), "ci95_high": round(high, 4),
                "mean_return": round(float(np.mean(self.returns)), 3),
                "mean_length": round(float(np.mean(self.lengths)), 2)}


def run_episodes(policy: Policy, env: gym.Env, episodes: int, first_seed: int = 10_000) -> EvaluationResult:
    """Run `episodes` episodes of `policy` on `env` (already wrapped for its observation kind)."""
    result = EvaluationResult()
    for i in range(episodes):
        observation, info = env.reset(seed=first_seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(policy.act(observation))
            total += float(reward)
            steps += info.get("env_steps", 1)   # a scripted grasp takes several env steps
            done = terminated or truncated
        result.successes.append(bool(info["is_success"]))
        result.returns.append(total)
        result.lengths.append(steps)
    return result
