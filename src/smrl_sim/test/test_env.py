import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from smrl_sim.core.env import SmrlEnv, make_vector_env


def scripted_grasp(info: dict, phase: dict) -> np.ndarray:
    """An ee_delta controller with privileged state: above the object, down, close, lift."""
    offset = info["object_position"] - info["ee_position"]
    grip = 1.0
    if phase["name"] == "above":
        goal = offset + [0, 0, 0.06]
        if np.linalg.norm(goal) < 0.015:
            phase["name"] = "down"
    elif phase["name"] == "down":
        goal = offset
        if abs(offset[2]) < 0.012:
            phase.update(name="close", frames=0)
    elif phase["name"] == "close":
        goal, grip = np.zeros(3), -1.0
        phase["frames"] += 1
        if phase["frames"] > 5:
            phase["name"] = "lift"
    else:
        goal, grip = np.array([0.0, 0.0, 0.1]), -1.0
    return np.concatenate([np.clip(goal / 0.03, -1, 1), [0.0, grip]]).astype(np.float32)


def test_env_passes_gymnasiums_checker():
    env = SmrlEnv(max_episode_steps=5)
    check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("task, max_steps", [("touch", 40), ("pick", 60)])
def test_tasks_can_be_solved_and_say_so(task, max_steps):
    env = gym.make(f"Smrl{task.capitalize()}-v0", action_mode="ee_delta", reward_type="sparse",
                   max_episode_steps=max_steps)
    _, info = env.reset(seed=3)
    phase, rewards = {"name": "above"}, []
    for _ in range(max_steps):
        _, reward, terminated, truncated, info = env.step(scripted_grasp(info, phase))
        rewards.append(reward)
        if terminated or truncated:
            break
    env.close()
    assert terminated and info["is_success"]
    assert rewards[-1] == 1.0 and all(r == 0.0 for r in rewards[:-1])
    if task == "pick":
        assert info["lift_m"] >= 0.05


def test_pick_is_not_won_by_touching():
    env = SmrlEnv(task="pick", action_mode="ee_delta", max_episode_steps=40)
    _, info = env.reset(seed=3)
    phase = {"name": "above"}
    for _ in range(40):
        action = scripted_grasp(info, phase)
        action[-1] = 1.0  # never close the gripper
        _, _, terminated, _, info = env.step(action)
        assert not terminated
    env.close()


def test_seed_fixes_the_object_pose_and_observations_follow_the_spaces():
    env = SmrlEnv()
    obs_a, info_a = env.reset(seed=11)
    _, info_b = env.reset(seed=11)
    _, info_c = env.reset(seed=12)
    np.testing.assert_allclose(info_a["object_position"], info_b["object_position"])
    assert np.linalg.norm(info_a["object_position"] - info_c["object_position"]) > 1e-3
    assert env.observation_space.contains(obs_a)
    obs, _, _, _, _ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    env.close()


def test_joint_delta_actions_move_joints_within_limits_and_nan_is_refused():
    env = SmrlEnv(action_mode="joint_delta")
    obs, _ = env.reset(seed=0)
    robot = env.unwrapped.world.robot
    for _ in range(30):
        obs, *_ = env.step(np.ones(8, dtype=np.float32))
    arm = obs["joint_positions"][:7]
    assert np.all(arm <= robot.arm_limits.upper + 0.02) and np.all(arm >= robot.arm_limits.lower - 0.02)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(8, np.nan, dtype=np.float32))
    env.close()


def test_vector_env_steps_copies_in_lockstep():
    envs = make_vector_env(2, asynchronous=False, max_episode_steps=3)
    obs, _ = envs.reset(seed=[1, 2])
    assert obs["rgb"].shape == (2, 64, 64, 3)
    obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert rewards.shape == (2,) and obs["joint_positions"].shape == (2, 9)
    envs.close()
