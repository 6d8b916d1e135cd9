"""Seeded episodes on a running sim: reset, watch the task status, judge, reset again.

The ROS counterpart of the gym evaluation loop (`smrl_policy.core.evaluation.run_episodes`):
episode i is reset with seed `first_seed + i`, so the graph meets the same object poses as a gym
evaluation from that seed. It succeeds as soon as one of its task statuses reports success, and
fails when its elapsed time (sim time since the reset) reaches `timeout_s` first. Statuses are
matched to episodes by the sim's episode counter (the reset's reply names the new episode), so a
status still in flight from the previous episode is never judged as the next one.

ROS-free: the episode runner node feeds it the statuses and reset replies and sends the resets it asks for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EpisodeResult:
    index: int              # 0, 1, ... in the order run
    seed: int
    success: bool
    elapsed_s: float        # to success, or the timeout
    min_distance_m: float   # closest the end effector came to the object


@dataclass
class EpisodeRunner:
    episodes: int
    first_seed: int = 10_000
    timeout_s: float = 5.0
    results: list[EpisodeResult] = field(default_factory=list)
    _running_episode: int | None = None   # the sim's number of the episode being judged
    _reset_pending: bool = False
    _min_distance_m: float = math.inf

    def __post_init__(self) -> None:
        if self.episodes < 1 or not self.timeout_s > 0:
            raise ValueError(f"need episodes >= 1 and timeout_s > 0, got {self.episodes} and {self.timeout_s}")

    @property
    def done(self) -> bool:
        return len(self.results) >= self.episodes

    def reset_to_request(self) -> int | None:
        """The seed of the next reset to send, once; None while one is pending, running, or all are done."""
        if self.done or self._reset_pending or self._running_episode is not None:
            return None
        self._reset_pending = True
        return self.first_seed + len(self.results)

    def reset_replied(self, succeeded: bool, sim_episode: int) -> None:
        """The sim's reply: on success, `sim_episode` is the number its statuses will carry; a failed
        reset is asked for again."""
        self._reset_pending = False
        if succeeded:
            self._running_episode, self._min_distance_m = sim_episode, math.inf

    def status(self, sim_episode: int, elapsed_s: float, success: bool, distance_m: float) -> EpisodeResult | None:
        """One task status; returns the episode's result when this status ends it."""
        if self._running_episode is None or sim_episode != self._running_episode:
            return None
        self._min_distance_m = min(self._min_distance_m, distance_m)
        if not success and elapsed_s < self.timeout_s:
            return None
        result = EpisodeResult(len(self.results), self.first_seed + len(self.results), success,
                               elapsed_s, self._min_distance_m)
        self.results.append(result)
        self._running_episode = None
        return result

    @property
    def successes(self) -> int:
        return sum(result.success for result in self.results)
