"""The active-inference agent: its objective's parts, the planner, and the agent with the shipped
forward model and body schema (no simulator)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from smrl_common.core.pixel_coordinates import normalised_to_pixels
from smrl_policy.core.evaluation import wilson_interval
from smrl_policy.core.active_inference import (
    ActiveInferenceAgent,
    ActiveInferenceConfig,
    FoldedEnsemble,
    PlannerConfig,
    cem_minimise,
    extrinsic_cost,
    goal_from_observation,
    hand_keypoint_from_body_schema,
    information_gain,
    parse_observation,
)
from smrl_policy.core.observation import LABEL_SELF, LABEL_WORLD, self_model_observation
from smrl_policy.core.policy import Policy
from smrl_self_model.core.body_schema import load_shipped_body_schema
from smrl_self_model.core.model_file import ModelFileError

torch.set_num_threads(1)
HOME_RAD = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.785])   # the Panda's home pose (panda.yaml)
FINGERS_M = np.array([0.04, 0.04])
NUM_KEYPOINTS = 8


@pytest.fixture(scope="module")
def agent() -> ActiveInferenceAgent:
    return ActiveInferenceAgent()


def home_observation(agent: ActiveInferenceAgent, labels: np.ndarray | None = None,
                     intensities: np.ndarray | None = None, other_centers: np.ndarray | None = None) -> np.ndarray:
    """The observation at the home pose, the self keypoints where the body schema expects them."""
    centers = np.zeros((NUM_KEYPOINTS, 2)) if other_centers is None else np.array(other_centers, dtype=np.float64)
    centers[agent.self_keypoint_indices] = load_shipped_body_schema().predict(HOME_RAD)
    labels = np.full(NUM_KEYPOINTS, LABEL_SELF) if labels is None else labels
    intensities = np.full(NUM_KEYPOINTS, 0.5) if intensities is None else intensities
    return self_model_observation(np.append(HOME_RAD, FINGERS_M), centers, intensities, labels)


# --- the objective ----------------------------------------------------------------------------------

def test_information_gain_is_zero_when_members_agree_and_grows_with_disagreement():
    agreeing = torch.tensor([3.0, -2.0, 5.0]).expand(5, 4, 3)          # (M, P, D)
    assert torch.allclose(information_gain(agreeing, member_std=1.0), torch.zeros(4))
    spread = torch.linspace(-1.0, 1.0, 5)[:, None, None]
    gains = [information_gain(agreeing + scale * spread, member_std=1.0).mean().item()
             for scale in (0.1, 0.5, 1.0, 3.0)]
    assert all(0.0 < a < b for a, b in zip(gains, gains[1:]))
    # One coordinate, variance v of the member means: 1/2 log(1 + v / sigma^2) nats.
    one = torch.tensor([-1.0, 1.0])[:, None, None]                       # variance 1
    assert information_gain(one, member_std=2.0).item() == pytest.approx(0.5 * np.log(1.25))


def test_extrinsic_cost_is_the_expected_negative_log_preference():
    mean, variance, goal = torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0]), torch.zeros(2)
    assert extrinsic_cost(mean, variance, goal, preference_std_px=2.0).item() == pytest.approx((25 + 3) / 8)


def test_cem_finds_the_minimum_of_a_quadratic():
    target = torch.tensor([[0.5, -0.3], [-0.8, 0.2], [0.1, 0.9]])       # (H, A), inside [-1, 1]
    config = PlannerConfig(horizon=3, population=200, elites=20, iterations=12)
    found = cem_minimise(lambda s: ((s - target) ** 2).sum(dim=(1, 2)), torch.zeros(3, 2), config,
                         torch.Generator().manual_seed(0))
    assert torch.allclose(found, target, atol=0.05)


def test_cem_respects_the_action_bounds():
    config = PlannerConfig(horizon=2, population=100, elites=10, iterations=8)
    found = cem_minimise(lambda s: ((s - 3.0) ** 2).sum(dim=(1, 2)), torch.zeros(2, 2), config,
                         torch.Generator().manual_seed(0))
    assert torch.allclose(found, torch.ones(2, 2), atol=0.05)


def test_the_folded_ensemble_computes_what_the_forward_model_network_does(agent):
    inputs = torch.randn(32, agent.forward_model.network.weights[0].shape[1]) * 0.5
    with torch.no_grad():
        assert torch.allclose(FoldedEnsemble(agent.forward_model.network)(inputs),
                              agent.forward_model.network(inputs), atol=1e-4)


# --- the agent with the shipped forward model -------------------------------------------------------

def test_the_agent_is_a_policy_on_the_self_model_observation(agent):
    assert isinstance(agent, Policy)
    assert agent.observation_kind == "self_model"
    action = agent.act(home_observation(agent))
    assert action.shape == (agent.forward_model.num_joints + 1,) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)


@pytest.mark.parametrize("angle_deg", [0, 90, 180, 270])
def test_the_first_planned_action_moves_the_predicted_hand_toward_a_pixel_goal(agent, angle_deg):
    observation = home_observation(agent)
    hand_px = normalised_to_pixels(parse_observation(observation, 9, NUM_KEYPOINTS).centers_norm[
        agent.hand_keypoint_index], 64, 64)
    goal_px = hand_px + 10.0 * np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))])
    agent.goal_px = goal_px
    try:
        action = agent.act(observation)
    finally:
        agent.goal_px = None
    predicted = agent.predicted_hand_px(observation, action)
    assert np.linalg.norm(predicted - goal_px) < np.linalg.norm(hand_px - goal_px) - 0.25   # px, in one 0.1 s step


def test_the_action_is_deterministic_and_fast_enough(agent):
    observation = home_observation(agent)
    agent.goal_px = np.array([38.0, 44.0])
    try:
        actions = [agent.act(observation) for _ in range(5)]
        times_ms = [agent.last_plan_ms for _ in actions]
    finally:
        agent.goal_px = None
    assert all(np.array_equal(actions[0], a) for a in actions)
    assert np.median(times_ms) < 100.0  # >= 10 Hz on one thread (typically ~10-30 ms)


def test_the_hand_is_the_self_keypoint_of_the_body_schema_that_moves_most_with_the_joints():
    """A fake schema: keypoint 0 moves with joint 0 only (near the base), keypoint 1 with joints 0-2."""
    def predict(q):
        q = np.atleast_2d(q)
        near = np.stack([np.cos(q[:, 0]), np.sin(q[:, 0])], -1)
        far = near + np.stack([np.cos(q[:, :3].sum(1)), np.sin(q[:, :3].sum(1))], -1)
        return np.stack([near, far], axis=1)
    schema = SimpleNamespace(num_joints=3, predict=predict,
                             network=SimpleNamespace(input_mean=torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])))
    assert hand_keypoint_from_body_schema(schema) == 1


# --- the goal -----------------------------------------------------------------------------------

def test_the_goal_is_the_brightest_world_keypoint_never_a_self_one(agent):
    labels = np.array([LABEL_WORLD, LABEL_SELF, 0, LABEL_SELF, LABEL_WORLD, LABEL_SELF, 0, LABEL_SELF])
    intensities = np.array([0.2, 0.9, 0.95, 0.9, 0.4, 0.9, 0.99, 0.9])   # unknown and self ones brighter
    observation = home_observation(agent, labels, intensities)
    assert goal_from_observation(parse_observation(observation, 9, NUM_KEYPOINTS)) == 4
    agent.act(observation)
    assert agent.last_goal_keypoint == 4
    no_world = home_observation(agent, np.where(labels == LABEL_WORLD, 0, labels), intensities)
    assert goal_from_observation(parse_observation(no_world, 9, NUM_KEYPOINTS)) is None
    agent.act(no_world)  # no preference: it plans for information alone
    assert agent.last_goal_keypoint is None


def test_a_pixel_goal_overrides_the_world_keypoint(agent):
    labels = np.full(NUM_KEYPOINTS, LABEL_SELF)
    labels[0] = LABEL_WORLD
    agent.goal_px = np.array([30.0, 40.0])
    try:
        agent.act(home_observation(agent, labels))
        assert agent.last_goal_keypoint is None
    finally:
        agent.goal_px = None


@pytest.mark.parametrize("bad, message", [
    (lambda o: np.where(np.arange(len(o)) == 3, np.nan, o), "NaN"),
    (lambda o: np.where(np.arange(len(o)) == 12, np.inf, o), "NaN or inf"),
    (lambda o: o[:-1], "shape"),
    (lambda o: o[1:], "shape"),                   # 8 joints: neither the arm alone nor with the fingers
    (lambda o: np.append(o, 0.0), "shape"),
    (lambda o: o.reshape(1, -1), "shape"),
])
def test_bad_observations_raise_a_clear_value_error(agent, bad, message):
    with pytest.raises(ValueError, match=message):
        agent.act(bad(home_observation(agent)))


# --- save / load ------------------------------------------------------------------------------------

def test_save_and_load_give_the_same_agent(agent, tmp_path):
    config = ActiveInferenceConfig(preference_std_px=5.0, planner=PlannerConfig(horizon=4, population=64, elites=8))
    original = ActiveInferenceAgent(config)
    path = original.save(tmp_path / "agent.pt")
    loaded = ActiveInferenceAgent.load(path)
    assert loaded.config == config and loaded.hand == original.hand
    observation = home_observation(agent)
    for policy in (original, loaded):
        policy.goal_px = np.array([38.0, 44.0])
    assert np.array_equal(original.act(observation), loaded.act(observation))


def test_loading_something_else_raises_a_model_file_error(tmp_path):
    torch.save({"format": "smrl_policy.td3", "format_version": 1, "metadata": {}, "state_dict": {}},
               tmp_path / "td3.pt")
    (tmp_path / "text.pt").write_text("not a model file")
    for name in ("td3.pt", "text.pt", "missing.pt"):
        with pytest.raises(ModelFileError, match=name):
            ActiveInferenceAgent.load(tmp_path / name)


def test_the_saved_file_names_its_format_for_load_policy(agent, tmp_path):
    content = torch.load(agent.save(tmp_path / "agent.pt"), weights_only=True)
    assert content["format"] == "smrl_policy.active_inference" and content["state_dict"] == {}


def test_observations_with_the_arm_joints_alone_act_like_those_with_the_fingers(agent):
    with_fingers = home_observation(agent)
    arm_only = np.delete(with_fingers, [7, 8])   # as the policy node builds it
    agent.goal_px = np.array([38.0, 44.0])
    try:
        assert np.array_equal(agent.act(with_fingers), agent.act(arm_only))
    finally:
        agent.goal_px = None


def test_wilson_interval():
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_an_unknown_preference_variant_is_refused():
    with pytest.raises(ValueError, match="preferred_keypoints"):
        ActiveInferenceAgent(ActiveInferenceConfig(preferred_keypoints="elbow"))


def test_the_any_keypoint_preference_is_content_with_any_self_keypoint_at_the_goal(agent):
    """Goal on a self keypoint that is not the hand: still costly for the hand preference, cheap for "any"."""
    any_keypoint = ActiveInferenceAgent(ActiveInferenceConfig(preferred_keypoints="any"),
                                        forward_model=agent.forward_model)
    keypoints = torch.tensor(load_shipped_body_schema().predict(HOME_RAD), dtype=torch.float32)
    other = int(torch.argmax((keypoints - keypoints[agent.hand]).norm(dim=-1)))   # farthest from the hand
    still = torch.zeros(1, 3, 7)
    joints = torch.tensor(HOME_RAD, dtype=torch.float32)
    cost_hand, cost_any = (a.expected_free_energy(still, keypoints, joints, keypoints[other]).item()
                           for a in (agent, any_keypoint))
    cost_at_the_hand = agent.expected_free_energy(still, keypoints, joints, keypoints[agent.hand]).item()
    away = keypoints.mean(dim=0) + torch.tensor([0.5, 0.5])  # no self keypoint near it
    cost_any_away = any_keypoint.expected_free_energy(still, keypoints, joints, away).item()
    print(f"goal at the hand {cost_at_the_hand:.2f}; on another self keypoint: hand preference {cost_hand:.2f}, "
          f"any {cost_any:.2f}; away from all, any {cost_any_away:.2f}")
    assert cost_hand > cost_at_the_hand + 1.0   # the hand preference wants the hand there
    assert cost_any < 0.5 * cost_any_away       # "any" is content with the self keypoint that is there
