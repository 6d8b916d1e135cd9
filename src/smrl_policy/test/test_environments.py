"""The observation wrappers on the real SmrlEnv, evaluation numbers, and the commands end to end (short)."""
import json

import numpy as np
import pytest
import torch

from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_policy import evaluate as evaluate_command
from smrl_policy import train as train_command
from smrl_policy.core.environments import FrozenSelfModel, make_env, make_vector_env
from smrl_policy.core.evaluation import run_episodes, wilson_interval
from smrl_policy.core.observation import blank_keypoint_positions, observation_size, self_model_observation
from smrl_policy.core.policy import RandomPolicy, load_policy
from smrl_policy.core.td3 import TD3Config, learn
from smrl_self_model.core.contingency import ContingencyLabeller
from smrl_sim.core.collect import CollectConfig, collect
from smrl_sim.core.episode_dataset import episode_files, read_episode, read_metadata


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_wilson_interval_numbers():
    np.testing.assert_allclose(wilson_interval(50, 100), (0.4038, 0.5962), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(90, 100), (0.8256, 0.9448), atol=1e-4)
    low, high = wilson_interval(0, 100)
    assert low == 0.0 and high == pytest.approx(0.0370, abs=1e-4)
    assert wilson_interval(100, 100)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_privileged_observation_holds_the_true_positions():
    env = make_env("touch", "privileged")
    observation, info = env.reset(seed=1)
    assert observation.shape == (9 + 9,) and env.observation_space.shape == (18,)
    np.testing.assert_allclose(observation[9:12], info["ee_position"])
    np.testing.assert_allclose(observation[12:15], info["object_position"])
    env.close()
    blind = make_env("touch", "blind")
    observation, info = blind.reset(seed=1)
    assert observation.shape == (9,) and not np.isin(info["object_position"], observation).any()
    blind.close()


def test_self_model_observation_is_from_pixels_and_joints_only():
    detector = KeypointDetector.from_checkpoint(None)
    self_model = FrozenSelfModel(detector, ContingencyLabeller(detector.num_keypoints, 7), 7, "none")
    env = make_env("touch", "self_model", self_model)
    raw = env.unwrapped
    observation, info = env.reset(seed=2)
    for _ in range(3):
        observation, _, _, _, info = env.step(env.action_space.sample())
    assert observation.shape == (observation_size(9, 8),) == env.observation_space.shape
    assert observation.dtype == np.float32 and np.isfinite(observation).all()
    raw_observation = raw._observation()  # the env's own dict: rgb and joints, nothing else
    assert set(raw_observation) == {"rgb", "joint_positions"}
    np.testing.assert_array_equal(observation, self_model.observe(raw_observation["rgb"], raw_observation["joint_positions"]))
    for value in np.concatenate([info["ee_position"], info["object_position"]]):
        assert not np.any(np.isclose(observation, value, atol=1e-6)), "a privileged value is in the observation"
    env.close()


def test_blanking_a_keypoint_holds_only_its_position_at_the_image_centre():
    centers = np.array([[0.5, -0.25], [0.75, 0.1], [-0.3, 0.9]])
    observation = self_model_observation(np.arange(7.0), centers, np.array([0.9, 0.8, 0.7]), np.array([1, 2, 0]))
    blanked = blank_keypoint_positions(observation, 3, (1,))
    expected = observation.copy()
    expected[7 + 5:7 + 5 + 2] = 0.0
    np.testing.assert_array_equal(blanked, expected)
    np.testing.assert_allclose(blanked[7 + 5 + 2:7 + 10], [0.8, 0.0, 1.0])  # its intensity and label (world) kept
    np.testing.assert_array_equal(blank_keypoint_positions(np.stack([observation] * 2), 3, (1,))[1], expected)
    with pytest.raises(ValueError, match="keypoints"):
        blank_keypoint_positions(observation, 3, (3,))


def test_an_env_with_a_blanked_keypoint_differs_from_the_plain_one_in_that_position_only():
    detector = KeypointDetector.from_checkpoint(None)
    self_model = FrozenSelfModel(detector, ContingencyLabeller(detector.num_keypoints, 7), 7, "none")
    observations = []
    for blanked in ((), (0,)):
        env = make_env("touch", "self_model", self_model, blank_keypoints=blanked)
        observation, _ = env.reset(seed=3)
        observations.append(env.step(np.zeros(env.action_space.shape))[0])
        env.close()
    plain, blanked = observations
    assert np.abs(plain[9:11]).min() > 0 and blanked[9:11].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(np.delete(blanked, [9, 10]), np.delete(plain, [9, 10]))
    with pytest.raises(ValueError, match="self_model"):
        make_env("touch", "privileged", blank_keypoints=(0,))
    with pytest.raises(SystemExit, match="self_model policies"):
        evaluate_command.main(["--out", "unused", "--episodes", "1", "--blank-keypoints", "0"])


def test_smoke_td3_on_the_sim_and_policy_drives_collect_and_evaluate(tmp_path):
    envs = make_vector_env(1, "touch", "privileged", max_episode_steps=10)
    agent = learn(TD3Config(total_steps=40, learning_starts=20, batch_size=16, hidden=32), envs)
    envs.close()
    policy = agent.policy("privileged", 0.15, {"task": "touch"})
    path = policy.save(tmp_path / "expert.pt")
    env = make_env("touch", "privileged", max_episode_steps=10)
    result = run_episodes(load_policy(path), env, 2)
    assert result.episodes == 2 and all(1 <= n <= 10 for n in result.lengths)
    assert run_episodes(RandomPolicy(8, seed=0), env, 2).episodes == 2
    env.close()
    # the expert's episodes, in the dataset format
    collect(CollectConfig(out=tmp_path / "expert_data", episodes=1, frames=4, policy=path, workers=1))
    episode = read_episode(episode_files(tmp_path / "expert_data")[0])
    assert episode["rgb"].shape == (4, 64, 64, 3) and episode["joint_positions"].shape == (4, 7)
    assert read_metadata(tmp_path / "expert_data")["policy"] == str(path)
    # the evaluation command on the same file
    rows = evaluate_command.evaluate(evaluate_command.EvaluateConfig(out=tmp_path / "eval", episodes=2,
                                                                     policies=(path,), max_episode_steps=10))
    assert [r["algo"] for r in rows] == ["random", "td3"]
    assert "| `expert.pt` | privileged | td3 |" in (tmp_path / "eval" / "evaluation.md").read_text()


def test_train_command_writes_policy_curve_and_summary(tmp_path):
    train_command.main(["--out", str(tmp_path), "--algo", "ddpg", "--steps", "60", "--num-envs", "1",
                        "--learning-starts", "30", "--batch-size", "16", "--eval-every", "30",
                        "--eval-episodes", "1", "--max-episode-steps", "10"])
    for name in ("policy.pt", "policy_best.pt", "learning_curve.json", "learning_curve.png", "summary.json"):
        assert (tmp_path / name).is_file(), name
    records = json.loads((tmp_path / "learning_curve.json").read_text())["records"]
    assert [r["env_steps"] for r in records] == [30, 60]
    assert load_policy(tmp_path / "policy.pt").metadata["algo"] == "ddpg"
    assert json.loads((tmp_path / "summary.json").read_text())["env_steps"] == 60
