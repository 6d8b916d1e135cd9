"""TD3 and DDPG: learning on a small reaching task, the DDPG configuration, policy files."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from smrl_policy.core.policy import Policy, load_policy
from smrl_policy.core.td3 import TD3, TD3Config, TD3Policy, learn
from smrl_self_model.core.model_file import ModelFileError


class PointReach(gym.Env):
    """A point on a plane moves by 0.1 * action per step towards a random goal; success within 0.1."""

    observation_space = gym.spaces.Box(-2.0, 2.0, (4,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-1, 1, 2)
        self.goal = self.np_random.uniform(-1, 1, 2)
        self.steps = 0
        return self._observation(), {"is_success": False}

    def step(self, action):
        self.position = np.clip(self.position + 0.1 * np.clip(action, -1, 1), -1.5, 1.5)
        self.steps += 1
        distance = float(np.linalg.norm(self.goal - self.position))
        success = distance < 0.1
        return self._observation(), -distance + success, success, self.steps >= 30 and not success, {"is_success": success}

    def _observation(self):
        return np.concatenate([self.position, self.goal]).astype(np.float32)


def success_rate(policy, episodes=30):
    env = PointReach()
    successes = 0
    for i in range(episodes):
        observation, info = env.reset(seed=500 + i)
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(policy.act(observation))
            done = terminated or truncated
        successes += info["is_success"]
    return successes / episodes


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def small_config(algo="td3", **overrides):
    return TD3Config.for_algo(algo, hidden=64, batch_size=64, learning_starts=500, total_steps=3000, seed=1,
                              gamma=0.9, **overrides)


def test_td3_learns_to_reach_with_a_vector_env(algo="td3"):
    """(DDPG learns it too, in about as long: left out to keep the suite short; the train command
    test runs DDPG on the sim.)"""
    envs = gym.vector.SyncVectorEnv([PointReach, PointReach])
    seen = []
    agent = learn(small_config(algo), envs, lambda agent, report: seen.extend(report.finished_successes))
    envs.close()
    policy = agent.policy("privileged", 0.1)
    random_rate = success_rate(type("Random", (), {"act": lambda self, o: np.random.default_rng(0).uniform(-1, 1, 2)})())
    learned_rate = success_rate(policy)
    assert random_rate < 0.2
    assert learned_rate >= 0.8, f"{algo}: {learned_rate:.0%} success after 3000 steps"
    assert len(seen) > 50  # the callback saw the finished episodes


def test_ddpg_is_td3_with_one_critic_no_smoothing_no_delay():
    td3, ddpg = TD3Config(), TD3Config.ddpg()
    assert (td3.num_critics, td3.policy_delay) == (2, 2) and td3.target_policy_noise > 0
    assert (ddpg.num_critics, ddpg.policy_delay, ddpg.target_policy_noise) == (1, 1, 0.0)
    assert {f: getattr(td3, f) for f in ("gamma", "tau", "actor_lr", "batch_size")} == \
        {f: getattr(ddpg, f) for f in ("gamma", "tau", "actor_lr", "batch_size")}
    assert len(TD3(ddpg, 4, 2).critics.q) == 1 and len(TD3(td3, 4, 2).critics.q) == 2
    # DDPG updates its actor every update, TD3 every second one
    batch = tuple(torch.randn(8, *shape) for shape in ((4,), (2,), (), (4,), ()))
    agent = TD3(td3, 4, 2)
    assert ["actor_loss" in agent.update(batch) for _ in range(4)] == [False, True, False, True]
    agent = TD3(ddpg, 4, 2)
    assert all("actor_loss" in agent.update(batch) for _ in range(3))
    with pytest.raises(ValueError, match="unknown algo"):
        TD3Config.for_algo("sac")


def test_policy_file_round_trip_and_errors(tmp_path):
    agent = TD3(TD3Config(hidden=32, seed=3), 6, 3)
    policy = agent.policy("privileged", 0.15, {"task": "touch", "env_steps": 7})
    assert isinstance(policy, Policy)
    observation = np.linspace(-1, 1, 6).astype(np.float32)
    path = policy.save(tmp_path / "p.pt")
    loaded = load_policy(path)
    assert isinstance(loaded, TD3Policy) and loaded.observation_kind == "privileged"
    assert loaded.max_joint_delta_rad == 0.15 and loaded.metadata["env_steps"] == 7
    np.testing.assert_array_equal(loaded.act(observation), policy.act(observation))
    assert np.all(np.abs(loaded.act(observation)) <= 1)
    with pytest.raises(ValueError, match="shape"):
        loaded.act(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        loaded.act(np.full(6, np.nan))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="corrupt.pt: not a readable model file"):
        load_policy(corrupt)
    with pytest.raises(ModelFileError, match="no such file"):
        load_policy(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "smrl_self_model.body_schema", "format_version": 1}, foreign)
    with pytest.raises(ModelFileError, match="not a policy format"):
        load_policy(foreign)
