"""The scripted grasp on the real sim: it picks a cube under the hand, knows only the robot, spends
env steps from the episode's budget; the train and evaluate commands carry it in the policy file."""
import json

import numpy as np
import pytest
import torch

from smrl_policy import evaluate as evaluate_command
from smrl_policy import train as train_command
from smrl_policy.core.environments import make_env
from smrl_policy.core.expert_motion import PolicyMotion
from smrl_policy.core.policy import load_policy
from smrl_policy.core.scripted_grasp import ScriptedGrasp
from smrl_sim.core.env import SmrlEnv
from smrl_sim.core.scene import TABLE_TOP_Z_M

STAY = np.zeros(3, np.float32)   # dx, dy, d-yaw: the hand only descends


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def put_cube_at(env, x_m: float, y_m: float, yaw_rad: float = 0.0) -> None:
    world = env.unwrapped.world
    half_height = 0.025 * world.config.object.scale
    world.client.resetBasePositionAndOrientation(world.object_id, [x_m, y_m, TABLE_TOP_Z_M + half_height],
                                                 world.client.getQuaternionFromEuler([0, 0, yaw_rad]))
    world.client.resetBaseVelocity(world.object_id, [0, 0, 0], [0, 0, 0])


def run_until_done(env, action=STAY):
    """Policy steps until the episode ends: the total env steps and the last step's result."""
    env_steps = 0
    while True:
        _, reward, terminated, truncated, info = env.step(action)
        env_steps += info["env_steps"]
        if terminated or truncated:
            return env_steps, reward, terminated, truncated, info


@pytest.mark.parametrize("yaw_rad", [0.0, 0.4])
def test_descending_onto_a_cube_under_the_hand_picks_it_within_the_step_budget(yaw_rad):
    env = make_env("pick", "privileged", scripted_grasp=True)
    assert env.action_space.shape == (3,)
    _, info = env.reset(seed=3)
    hand = info["ee_position"]
    put_cube_at(env, hand[0] + 0.01, hand[1] - 0.01, yaw_rad)   # not centred, turned: still picked
    env_steps, reward, terminated, truncated, info = run_until_done(env)
    assert info["is_success"] and terminated and not truncated
    assert info["lift_m"] >= 0.05 and env.unwrapped.world.object_grasped()
    assert env_steps == env.unwrapped._steps < 25   # descend ~0.4 m, close, lift: every one an env step
    assert reward > 1.0   # the grasp's rewards summed, the success bonus among them
    env.close()


def test_the_script_moves_the_same_wherever_the_object_is():
    """It reads the robot only: with the cube out of reach in two places, the arm goes down to
    `grasp_height_m` above the table, closes and lifts identically."""
    finals = []
    for cube_y_m in (0.35, -0.35):
        env = ScriptedGrasp(SmrlEnv(task="pick", action_mode="ee_delta"), lift_m=0.0)
        env.reset(seed=5)
        put_cube_at(env, 0.9, cube_y_m)
        env_steps = 0
        while env_steps < 15:   # the descent; the grasp step is the one taking more than one env step
            _, _, terminated, truncated, info = env.step(STAY)
            env_steps += info["env_steps"]
            if info["env_steps"] > 1:
                break
        assert info["env_steps"] == 1 + env.close_steps and not info["in_contact"]
        assert env.hand_height_m() == pytest.approx(env.grasp_height_m, abs=0.01)
        assert env.unwrapped.world.robot.gripper_state()[0].max() < 0.03   # closing on nothing
        finals.append(env.unwrapped.world.robot.arm_state()[0])
        env.close()
    np.testing.assert_allclose(finals[0], finals[1], atol=1e-6)


def test_a_missed_grasp_lifts_and_descends_again_until_the_budget_is_spent():
    env = make_env("pick", "privileged", scripted_grasp=True, max_episode_steps=40)
    env.reset(seed=1)
    put_cube_at(env, 0.9, 0.35)   # out of reach: every grasp misses
    grasps = 0
    while True:
        _, _, terminated, truncated, info = env.step(STAY)
        grasps += info["env_steps"] > 1
        if terminated or truncated:
            break
    assert truncated and not terminated and env.unwrapped._steps == 40 and grasps >= 2
    env.close()


def test_needs_ee_delta_actions():
    with pytest.raises(ValueError, match="ee_delta"):
        ScriptedGrasp(SmrlEnv(task="pick", action_mode="joint_delta"))


def test_train_records_the_scripted_grasp_and_evaluate_applies_it(tmp_path):
    train_command.main(["--out", str(tmp_path / "run"), "--task", "pick", "--scripted-grasp", "--steps", "40",
                        "--num-envs", "1", "--learning-starts", "20", "--batch-size", "16", "--eval-every", "40",
                        "--eval-episodes", "1", "--max-episode-steps", "20"])
    policy = load_policy(tmp_path / "run" / "policy.pt")
    assert policy.metadata["scripted_grasp"] is True and policy.action_size == 3   # dx, dy, d-yaw
    rows = evaluate_command.evaluate(evaluate_command.EvaluateConfig(
        out=tmp_path / "eval", task="pick", episodes=2, policies=(tmp_path / "run" / "policy.pt",), max_episode_steps=20))
    assert rows[1]["episodes"] == 2 and rows[1]["mean_length"] == 20   # env steps, grasps included: no pick
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["rows"][1]["algo"] == "td3"
    env = make_env("pick", "privileged")
    with pytest.raises(ValueError, match="scripted grasp"):   # collection drives joint_delta policies only
        PolicyMotion(env.unwrapped.world, tmp_path / "run" / "policy.pt")
    env.close()
