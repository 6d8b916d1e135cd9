"""Evaluate the active-inference agent on the sim's touch task: success rate over seeded episodes
with a Wilson 95 % interval, and milliseconds per action.

    python -m smrl_policy.active_inference_eval --goal oracle_px --episodes 100
    python -m smrl_policy.active_inference_eval --goal world_keypoint --episodes 100

The agent sees what the robot would: the shipped keypoint model on the camera image, and the
per-frame self / world labels of a contingency labeller that first lives through
`priming_episodes` of motor babbling (the env's own seeds, not the evaluation's). It learns from
that babbling only (`--labeller-learns`: from the agent's episodes too). The agent's own motion is
no evidence of what is self: it reaches for the object, so its joints come to predict where the
object is, and its touches move the object with the hand. Learning on, the object keypoint's score
rose from 0.00 to 0.06-0.14 within 15-40 episodes, its per-frame label turned self, no world
keypoint was left to be a goal, and touches fell from 9 in 10 to 0-3 in 10 episodes (round-4
keypoints, seeds 2000-2099).
Goals:
  oracle_px       ORACLE: the object's true centre projected into the image (privileged state),
                  given to the agent as a pixel goal. Tests planner + forward model apart from
                  perception (the shipped keypoint model's object keypoint jumps now and then).
  world_keypoint  the agent's own goal: the brightest keypoint labelled world in the frame.
Episode i runs env seed `seed + i`, so other policies (TD3) can be scored on the same episodes.
`run_episode` and `SelfModelObserver` are small on purpose, to fold into the shared evaluation
command; the Wilson interval is smrl_policy.core.evaluation's. Privileged values (object, end effector) are only read for scoring
and for the oracle goal.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from smrl_perception.core.keypoint_detector import KeypointDetector
from smrl_policy.core.active_inference import ActiveInferenceAgent, ActiveInferenceConfig
from smrl_policy.core.evaluation import wilson_interval
from smrl_policy.core.observation import self_model_observation
from smrl_policy.core.policy import Policy, RandomPolicy, load_policy
from smrl_self_model.core.contingency import ContingencyLabeller
from smrl_sim.core.env import SmrlEnv
from smrl_sim.core.motor_babbling import MotorBabbling

GOALS = ("oracle_px", "world_keypoint")
BASELINES = ("random", "still")
PLANNER_FLAGS = ("horizon", "population", "elites", "iterations")
AGENT_FLAGS = ("preference_std_px", "prediction_std_px", "information_gain_weight", "action_prior_std")


class SelfModelObserver:
    """Env observation (rgb, joint_positions) -> the policy's flat self-model observation, through the
    keypoint detector and the contingency labeller's per-frame labels; the labeller takes samples
    while `learning`."""

    def __init__(self, detector: KeypointDetector, labeller: ContingencyLabeller, num_arm_joints: int) -> None:
        self.detector = detector
        self.labeller = labeller
        self.num_arm_joints = num_arm_joints
        self.learning = True
        self.last_centers_px: np.ndarray | None = None

    def start_episode(self) -> None:
        self.labeller.start_episode()

    def __call__(self, env_observation: dict) -> np.ndarray:
        keypoints = self.detector.detect(env_observation["rgb"])
        joints = np.asarray(env_observation["joint_positions"], dtype=np.float64)
        arm = joints[:self.num_arm_joints]
        if self.learning:
            self.labeller.update(keypoints.normalised, keypoints.intensities, arm)
        self.last_centers_px = keypoints.pixels
        labels = self.labeller.frame_labels(keypoints.normalised, arm)
        return self_model_observation(joints, keypoints.normalised, keypoints.intensities, labels)


def prime_labeller(env: SmrlEnv, observer: SelfModelObserver, episodes: int, seed: int) -> None:
    """Motor babbling (targets held 0.3-1 s, as in the self model's datasets) through the joint_delta
    actions, so the labeller has evidence and a position model before the agent acts."""
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        babbling = MotorBabbling(env.world, np.random.default_rng(seed + episode), control_period_s=0.1)
        observer.start_episode()
        observer(observation)
        for _ in range(env.max_episode_steps):
            arm = observation["joint_positions"][:observer.num_arm_joints]
            delta = (babbling.next_targets() - arm) / env.max_joint_delta_rad
            observation, *_ = env.step(np.append(np.clip(delta, -1.0, 1.0), 1.0))
            observer(observation)
        observer.labeller.refresh()


class StillPolicy:
    """The "still" baseline: joints held, gripper open."""

    observation_kind = "self_model"

    def __init__(self, num_actions: int, max_joint_delta_rad: float) -> None:
        self.num_actions, self.max_joint_delta_rad = num_actions, max_joint_delta_rad

    def act(self, observation: np.ndarray) -> np.ndarray:
        return np.append(np.zeros(self.num_actions - 1), 1.0).astype(np.float32)

    def save(self, path: Path | str) -> Path:
        raise NotImplementedError("a baseline has nothing to save")


def baseline_policy(kind: str, num_actions: int, max_joint_delta_rad: float, seed: int = 0) -> Policy:
    """Reference points on the same episodes: "random" (uniform actions, seeded) or "still"."""
    if kind == "random":
        return RandomPolicy(num_actions, "self_model", max_joint_delta_rad, seed)
    if kind == "still":
        return StillPolicy(num_actions, max_joint_delta_rad)
    raise ValueError(f"unknown baseline {kind!r}; known: {BASELINES}")


def load_other_policy(path: str) -> Policy:
    """Any policy file, through the shared loader, to score it on the same episodes; its observation
    must be the "self_model" one."""
    policy = load_policy(path)
    if policy.observation_kind != "self_model":
        raise SystemExit(f"{path}: a {policy.observation_kind!r} policy; this evaluation gives 'self_model' observations")
    return policy


def time_actions(policy: Policy, observations: list[np.ndarray]) -> dict:
    """Milliseconds per `act` over the given observations: median, 95th percentile, max."""
    times_ms = []
    for observation in observations:
        started = time.perf_counter()
        policy.act(observation)
        times_ms.append(1000.0 * (time.perf_counter() - started))
    return {"median": float(np.median(times_ms)), "p95": float(np.percentile(times_ms, 95)),
            "max": float(np.max(times_ms)), "actions": len(times_ms)}


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    steps: int                       # env steps taken (to success, or all)
    final_distance_m: float          # end effector to object (privileged, scoring only)
    final_hand_goal_px: float        # hand keypoint (observed) to the agent's goal, last frame; nan without a goal
    min_hand_goal_px: float
    goal_to_object_px: float         # the agent's goal to the object's true pixel, mean over frames; nan without
    hand_to_end_effector_px: float   # the agent's hand keypoint to the true end effector's pixel, mean over frames
    ms_per_action: float             # mean over the episode
    max_ms_per_action: float


def object_pixel(env: SmrlEnv, info: dict) -> np.ndarray:
    """The object's centre projected into the image, (u, v) px: privileged."""
    return env.world.camera.project(np.asarray(info["object_position"])[None])[0]


def run_episode(env: SmrlEnv, policy: Policy, observe: Callable[[dict], np.ndarray], seed: int,
                oracle_goal: bool = False) -> EpisodeResult:
    """One seeded episode; with `oracle_goal` the agent gets the object's true pixel as `goal_px`."""
    observation, info = env.reset(seed=seed)
    if hasattr(observe, "start_episode"):
        observe.start_episode()
    if hasattr(policy, "reset"):
        policy.reset()
    agent = policy if isinstance(policy, ActiveInferenceAgent) else None
    hand_goal_px, goal_object_px, hand_ee_px, plan_ms = [], [], [], []
    success, steps = bool(info["is_success"]), 0
    while not success and steps < env.max_episode_steps:
        flat = observe(observation)
        if agent is not None:
            agent.goal_px = object_pixel(env, info) if oracle_goal else None
        started = time.perf_counter()
        action = policy.act(flat)
        plan_ms.append(1000.0 * (time.perf_counter() - started))
        if agent is not None:
            end_effector_px = env.world.camera.project(np.asarray(info["ee_position"])[None])[0]
            hand_ee_px.append(float(np.linalg.norm(observe.last_centers_px[agent.hand_keypoint_index] - end_effector_px)))
            goal = _agent_goal_px(agent, observe)
            if goal is not None:
                hand_goal_px.append(float(np.linalg.norm(observe.last_centers_px[agent.hand_keypoint_index] - goal)))
                goal_object_px.append(float(np.linalg.norm(goal - object_pixel(env, info))))
        observation, _, terminated, truncated, info = env.step(action)
        steps += 1
        success = bool(info["is_success"])
    nan = float("nan")
    return EpisodeResult(seed=seed, success=success, steps=steps,
                         final_distance_m=float(np.linalg.norm(info["object_position"] - info["ee_position"])),
                         final_hand_goal_px=hand_goal_px[-1] if hand_goal_px else nan,
                         min_hand_goal_px=min(hand_goal_px) if hand_goal_px else nan,
                         goal_to_object_px=float(np.mean(goal_object_px)) if goal_object_px else nan,
                         hand_to_end_effector_px=float(np.mean(hand_ee_px)) if hand_ee_px else nan,
                         ms_per_action=float(np.mean(plan_ms)) if plan_ms else nan,
                         max_ms_per_action=float(np.max(plan_ms)) if plan_ms else nan)


def _agent_goal_px(agent: ActiveInferenceAgent, observe) -> np.ndarray | None:
    if agent.goal_px is not None:
        return np.asarray(agent.goal_px, dtype=np.float64)
    if agent.last_goal_keypoint is None or getattr(observe, "last_centers_px", None) is None:
        return None
    return observe.last_centers_px[agent.last_goal_keypoint]


@dataclass
class EvaluationConfig:
    goal: str = "oracle_px"
    episodes: int = 100
    seed: int = 1000                 # episode i: env seed seed + i
    priming_episodes: int = 8
    priming_seed: int = 0
    task: str = "touch"
    max_episode_steps: int = 50
    agent_file: str = ""             # empty: ActiveInferenceConfig's defaults
    planner: dict = field(default_factory=dict)   # PlannerConfig overrides
    agent: dict = field(default_factory=dict)     # ActiveInferenceConfig overrides (not planner)
    out: str = "outputs/active_inference"
    baseline: str = ""               # "random" or "still": run that instead of the agent (same episodes)
    policy_file: str = ""            # or any self-model policy file (load_policy), e.g. TD3's
    name: str = ""                   # of the report file in `out`; empty: the goal's name
    threads: int = 1
    keypoint_model: str = ""         # empty: the shipped keypoint model; else a checkpoint (trials of other models)
    labeller_learns: bool = False    # the labeller takes samples of the agent's own episodes too (else babbling only)


def median_of_finite(values: list[float]) -> float | None:
    """The median of the finite values; None when there are none (JSON has no NaN)."""
    finite = [value for value in values if math.isfinite(value)]
    return float(np.median(finite)) if finite else None


def summary(results: list[EpisodeResult]) -> dict:
    successes = sum(result.success for result in results)
    low, high = wilson_interval(successes, len(results))
    succeeded = [result.steps for result in results if result.success]
    finite_ms = [result.ms_per_action for result in results if math.isfinite(result.ms_per_action)]
    return {
        "episodes": len(results), "successes": successes, "success_rate": successes / max(len(results), 1),
        "wilson95": [low, high],
        "mean_steps_to_success": float(np.mean(succeeded)) if succeeded else None,
        "ms_per_action_mean": float(np.mean(finite_ms)) if finite_ms else None,
        "ms_per_action_max": max((r.max_ms_per_action for r in results if math.isfinite(r.max_ms_per_action)),
                                 default=None),
        "final_hand_goal_px_median": median_of_finite([r.final_hand_goal_px for r in results]),
        "min_hand_goal_px_median": median_of_finite([r.min_hand_goal_px for r in results]),
        "goal_to_object_px_median": median_of_finite([r.goal_to_object_px for r in results]),
        "hand_to_end_effector_px_median": median_of_finite([r.hand_to_end_effector_px for r in results]),
        "final_distance_m_median": median_of_finite([r.final_distance_m for r in results]),
    }


def episode_json(result: EpisodeResult) -> dict:
    return {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in asdict(result).items()}


def evaluate(config: EvaluationConfig) -> dict:
    if config.goal not in GOALS:
        raise ValueError(f"unknown goal {config.goal!r}; known: {GOALS}")
    torch.set_num_threads(config.threads)
    env = SmrlEnv(task=config.task, action_mode="joint_delta", max_episode_steps=config.max_episode_steps)
    agent_config = ActiveInferenceAgent.load_config(config.agent_file) if config.agent_file else ActiveInferenceConfig()
    agent_config = replace(agent_config, **config.agent, max_joint_delta_rad=env.max_joint_delta_rad,
                           planner=replace(agent_config.planner, **config.planner))
    agent = ActiveInferenceAgent(agent_config)
    policy = agent if not config.baseline else baseline_policy(config.baseline, agent.num_actions,
                                                               env.max_joint_delta_rad, config.seed)
    if config.policy_file:
        policy = load_other_policy(config.policy_file)
    detector = KeypointDetector.from_checkpoint(config.keypoint_model or None)
    labeller = ContingencyLabeller(detector.num_keypoints, agent.forward_model.num_joints)
    observer = SelfModelObserver(detector, labeller, agent.forward_model.num_joints)
    started = time.perf_counter()
    prime_labeller(env, observer, config.priming_episodes, config.priming_seed)
    priming_s = time.perf_counter() - started
    observer.learning = config.labeller_learns
    samples_after_priming = labeller.num_samples
    observation, info = env.reset(seed=config.seed)
    agent.goal_px = object_pixel(env, info) if config.goal == "oracle_px" else None
    timing = time_actions(policy, [observer(observation)] * 200)   # the policy alone, one thread
    results = []
    label = config.name or config.baseline or Path(config.policy_file).stem or config.goal
    for episode in range(config.episodes):
        results.append(run_episode(env, policy, observer, config.seed + episode, config.goal == "oracle_px"))
        labeller.refresh()   # nothing to do when it took no samples
        done = results[-1]
        print(f"[{label}] episode {episode + 1}/{config.episodes} seed {done.seed}: "
              f"{'success' if done.success else 'fail'} in {done.steps} steps, "
              f"hand-goal {done.final_hand_goal_px:.1f} px, {done.ms_per_action:.1f} ms/action", flush=True)
    env.close()
    report = {
        "goal": config.goal,
        "goal_is_oracle": config.goal == "oracle_px",
        "baseline": config.baseline,
        "policy_file": config.policy_file,
        "config": asdict(config),
        "agent_config": agent.config.to_dict(),
        "hand_keypoint_index": agent.hand_keypoint_index,
        "self_keypoint_labels_after_priming": labeller.labels.tolist(),
        "labeller_samples": {"after_priming": samples_after_priming, "at_end": labeller.num_samples},
        "priming_s": priming_s,
        "summary": summary(results),
        "ms_per_action_benchmark": timing,
        "episodes": [episode_json(result) for result in results],
    }
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{label}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def parse_args(argv: list[str] | None = None) -> EvaluationConfig:
    defaults = EvaluationConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goal", choices=GOALS, default=defaults.goal)
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--priming-episodes", type=int, default=defaults.priming_episodes)
    parser.add_argument("--task", default=defaults.task)
    parser.add_argument("--max-episode-steps", type=int, default=defaults.max_episode_steps)
    parser.add_argument("--agent", default=defaults.agent_file, help="agent file (ActiveInferenceAgent.save)")
    for name in PLANNER_FLAGS:
        parser.add_argument(f"--{name}", type=int, default=None, help=f"PlannerConfig.{name}")
    parser.add_argument("--warm-start", action="store_true", help="PlannerConfig.warm_start")
    for name in AGENT_FLAGS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, help=f"ActiveInferenceConfig.{name}")
    parser.add_argument("--keypoint-model", default=defaults.keypoint_model,
                        help="keypoint checkpoint (default: the shipped model)")
    parser.add_argument("--labeller-learns", action="store_true",
                        help="the labeller learns on during the evaluated episodes (default: from the priming babbling only)")
    parser.add_argument("--forward-model", default=None, help="ActiveInferenceConfig.forward_model_path")
    parser.add_argument("--body-schema", default=None, help="ActiveInferenceConfig.body_schema_path")
    parser.add_argument("--hand-keypoint", type=int, default=None,
                        help="ActiveInferenceConfig.hand_keypoint (ablation; default: from the body schema)")
    parser.add_argument("--preferred-keypoints", choices=("hand", "any"), default=None,
                        help="ActiveInferenceConfig.preferred_keypoints")
    parser.add_argument("--baseline", choices=BASELINES, default=None,
                        help="run a reference policy instead of the agent, on the same episodes")
    parser.add_argument("--policy-file", default=defaults.policy_file,
                        help="score this policy file (a 'self_model' one, e.g. TD3's) instead of the agent")
    parser.add_argument("--out", default=defaults.out)
    parser.add_argument("--name", default=defaults.name, help="report file name (default: the goal's)")
    parser.add_argument("--threads", type=int, default=defaults.threads)
    args = parser.parse_args(argv)
    planner = {name: getattr(args, name) for name in PLANNER_FLAGS if getattr(args, name) is not None}
    if args.warm_start:
        planner["warm_start"] = True
    agent = {name: getattr(args, name) for name in AGENT_FLAGS if getattr(args, name) is not None}
    if args.preferred_keypoints is not None:
        agent["preferred_keypoints"] = args.preferred_keypoints
    if args.hand_keypoint is not None:
        agent["hand_keypoint"] = args.hand_keypoint
    for flag, name in (("forward_model", "forward_model_path"), ("body_schema", "body_schema_path")):
        if getattr(args, flag) is not None:
            agent[name] = getattr(args, flag)
    return EvaluationConfig(goal=args.goal, episodes=args.episodes, seed=args.seed,
                            priming_episodes=args.priming_episodes, task=args.task,
                            max_episode_steps=args.max_episode_steps, agent_file=args.agent, planner=planner, agent=agent,
                            out=args.out, name=args.name, baseline=args.baseline or "",
                            policy_file=args.policy_file, threads=args.threads,
                            keypoint_model=args.keypoint_model, labeller_learns=args.labeller_learns)


def main(argv: list[str] | None = None) -> None:
    report = evaluate(parse_args(argv))
    s = report["summary"]
    print(json.dumps({"goal": report["goal"], "oracle": report["goal_is_oracle"], "baseline": report["baseline"], **s,
                      "ms_per_action_benchmark": report["ms_per_action_benchmark"]}, indent=2))


if __name__ == "__main__":
    main()
