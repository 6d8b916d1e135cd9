"""The scripted grasp on the real sim: it picks a cube under the hand, knows only the robot, spends
env steps from the episode's budget; and the train and evaluate commands carry it in the policy file."""
import json

import numpy as np
import pytest
import torch

from smrl_policy import evaluate as evaluate_command
from smrl_policy import train as train_command
from smrl_policy.core.environments import make_env
from smrl_policy.core.policy import load_policy
from smrl_policy.core.scripted_grasp import ScriptedGrasp
from smrl_sim.core.env import SmrlEnv
from smrl_sim.core.scene import TABLE_TOP_Z_M

CLOSE = np.array([0, 0, 0, 0, -1], np.float32)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def put_cube_at(env, x_m: float, y_m: float, yaw_rad: float = 0.0) -> None:
    world = env.unwrapped.world
    half_height = 0.025 * world.config.object.scale
    world.client.resetBasePositionAndOrientation(world.object_id, [x_m, y_m, TABLE_TOP_Z_M + half_height],
                                                 world.client.getQuaternionFromEuler([0, 0, yaw_rad]))
    world.client.resetBaseVelocity(world.object_id, [0, 0, 0], [0, 0, 0])


@pytest.mark.parametrize("yaw_rad", [0.0, 0.7])
def test_closing_over_a_cube_picks_it_within_the_step_budget(yaw_rad):
    env = make_env("pick", "privileged", scripted_grasp=True)
    _, info = env.reset(seed=3)
    hand = info["ee_position"]
    put_cube_at(env, hand[0] + 0.01, hand[1] - 0.01, yaw_rad)   # not centred, turned: still picked
    _, reward, terminated, truncated, info = env.step(CLOSE)
    assert info["is_success"] and terminated and not truncated
    assert info["lift_m"] >= 0.05 and env.unwrapped.world.object_grasped()
    assert info["env_steps"] == env.unwrapped._steps > 10   # descend ~0.4 m, close, lift: all env steps
    assert reward > 1.0   # the env's rewards summed, the success bonus among them
    env.close()


def test_the_macro_moves_the_same_wherever_the_object_is():
    """It reads the robot only: with the cube out of reach in two places, the arm ends identically,
    the grasp point down at `grasp_height_m` above the table (no lift here)."""
    finals = []
    for cube_y_m in (0.35, -0.35):
        env = ScriptedGrasp(SmrlEnv(task="pick", action_mode="ee_delta"), lift_m=0.0)
        env.reset(seed=5)
        put_cube_at(env, 0.9, cube_y_m)
        _, _, terminated, truncated, info = env.step(CLOSE)
        assert not terminated and not truncated and not info["in_contact"]
        assert env.hand_height_m() == pytest.approx(env.grasp_height_m, abs=0.01)
        finals.append(env.unwrapped.world.robot.arm_state()[0])
        env.close()
    np.testing.assert_allclose(finals[0], finals[1], atol=1e-6)


def test_the_grasp_stops_at_the_end_of_the_episode():
    env = make_env("pick", "privileged", scripted_grasp=True, max_episode_steps=4)
    env.reset(seed=1)
    env.step(np.array([0, 0, 0, 0, 1], np.float32))   # an open-gripper step is one env step
    _, _, terminated, truncated, info = env.step(CLOSE)
    assert truncated and not terminated and info["env_steps"] == 3 and env.unwrapped._steps == 4
    env.close()


def test_needs_ee_delta_actions():
    with pytest.raises(ValueError, match="ee_delta"):
        ScriptedGrasp(SmrlEnv(task="pick", action_mode="joint_delta"))


def test_train_records_the_scripted_grasp_and_evaluate_applies_it(tmp_path):
    train_command.main(["--out", str(tmp_path / "run"), "--task", "pick", "--scripted-grasp", "--steps", "40",
                        "--num-envs", "1", "--learning-starts", "20", "--batch-size", "16", "--eval-every", "40",
                        "--eval-episodes", "1", "--max-episode-steps", "20"])
    policy = load_policy(tmp_path / "run" / "policy.pt")
    assert policy.metadata["scripted_grasp"] is True and policy.action_size == 5   # dx, dy, dz, d-yaw, gripper
    rows = evaluate_command.evaluate(evaluate_command.EvaluateConfig(
        out=tmp_path / "eval", task="pick", episodes=2, policies=(tmp_path / "run" / "policy.pt",), max_episode_steps=20))
    assert rows[1]["episodes"] == 2 and rows[1]["mean_length"] <= 20   # env steps, grasps included
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["rows"][1]["algo"] == "td3"
