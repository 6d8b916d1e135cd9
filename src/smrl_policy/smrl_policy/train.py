"""Train TD3 or DDPG on the touch or pick task, from privileged state or from the self-model state.

    python -m smrl_policy.train --algo td3 --observation privileged --task touch --steps 30000 \
        --num-envs 2 --out outputs/policy/td3_privileged_touch
    python -m smrl_policy.train --algo td3 --observation self_model --task touch --steps 30000 \
        --out outputs/policy/td3_self_model_touch
    ./smrl train-policy --help

Writes into --out: `policy.pt` (the last actor), `policy_best.pt` (the actor of the best periodic
evaluation), `learning_curve.json` / `.png` (success rate and return vs env steps: the training
episodes since the last record, and the deterministic actor on `--eval-episodes` fixed seeded
episodes that the final evaluation does not use), `summary.json`. Ctrl-C or SIGTERM stops cleanly: the
policy and curve so far are written. Runs are not resumed (the replay buffer is not saved): a
new run starts from scratch.

Pick uses the env's dense reward, which has a grasp and lift term (smrl_sim.core.tasks.PickTask:
+0.5 for a grasp, up to +0.5 more for lifting 5 cm); no HER. `--scripted-grasp` is the original project's
automatic descent and scripted grasp (smrl_policy.core.scripted_grasp): the policy steers the hand
in dx, dy, d-yaw, the script takes it down, closes and lifts; the policy file records it, so
evaluation applies it too. An env step of `--steps` is then one policy step (a grasp's policy step
is several 0.1 s env steps).
The self_model observation needs a babbling dataset to freeze the self model on
(`--self-model-data`); it is collected when missing.
"""
from __future__ import annotations

import argparse
import json
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from smrl_policy.core.environments import OBSERVATION_KINDS, FrozenSelfModel, make_env, make_vector_env
from smrl_policy.core.evaluation import run_episodes
from smrl_policy.core.td3 import TD3, StepReport, TD3Config, learn

TRAINING_EVAL_FIRST_SEED = 1_000_000   # periodic evaluations; the final evaluation uses 10_000 + i
DEFAULT_SELF_MODEL_DATA = Path("outputs/datasets/policy_babbling")


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    algo: str = "td3"
    observation: str = "privileged"
    task: str = "touch"
    steps: int = 30_000
    num_envs: int = 2
    seed: int = 0
    eval_every: int = 2_500            # env steps between evaluations, checkpoints and curve points
    eval_episodes: int = 20
    learning_starts: int = 2_000
    batch_size: int = 256
    gamma: float = 0.98
    max_episode_steps: int = 50
    scripted_grasp: bool = False       # the policy steers the hand in dx, dy, d-yaw; a script descends and grasps
    self_model_data: Path = DEFAULT_SELF_MODEL_DATA
    keypoint_model: Path | None = None   # None: the shipped one
    threads: int = 1

    def td3_config(self) -> TD3Config:
        return TD3Config.for_algo(self.algo, total_steps=self.steps, seed=self.seed, learning_starts=self.learning_starts,
                                  batch_size=self.batch_size, gamma=self.gamma)


def frozen_self_model(folder: Path, keypoint_model: Path | None = None) -> FrozenSelfModel:
    self_model = FrozenSelfModel.from_dataset(folder, collect_if_missing=True, keypoint_model=keypoint_model)
    labels = self_model.labeller.labels.tolist()
    print(f"self model frozen on {folder}: {self_model.labeller.num_samples} samples, keypoint labels {labels} "
          f"(0 unknown, 1 self, 2 world)", flush=True)
    return self_model


class TrainingRecorder:
    """The callback of `learn`: progress bar, periodic evaluation, checkpoints, learning curve."""

    def __init__(self, config: TrainConfig, eval_env, metadata: dict) -> None:
        self.config = config
        self.eval_env = eval_env
        self.metadata = metadata
        self.records: list[dict] = []
        self.returns: list[float] = []
        self.successes: list[bool] = []
        self.next_eval = config.eval_every
        self.best_success = -1.0
        self.agent: TD3 | None = None
        self.env_steps = 0
        self.started = time.perf_counter()
        self.progress = tqdm(total=config.steps, desc=f"{config.algo} {config.observation} {config.task}",
                             unit="step", smoothing=0.05)

    def __call__(self, agent: TD3, report: StepReport) -> None:
        self.agent = agent
        self.progress.update(report.env_steps - self.env_steps)
        self.env_steps = report.env_steps
        self.returns += report.finished_returns
        self.successes += report.finished_successes
        if report.env_steps >= self.next_eval:
            self.next_eval += self.config.eval_every
            self.record()

    def policy(self):
        return self.agent.policy(self.config.observation, self.eval_env.unwrapped.max_joint_delta_rad,
                                 {**self.metadata, "env_steps": self.env_steps})

    def record(self) -> None:
        if self.agent is None:
            return
        policy = self.policy()
        evaluation = run_episodes(policy, self.eval_env, self.config.eval_episodes, TRAINING_EVAL_FIRST_SEED)
        record = {
            "env_steps": self.env_steps,
            "wall_s": round(time.perf_counter() - self.started, 1),
            "train_episodes": len(self.successes),
            "train_success_rate": float(np.mean(self.successes)) if self.successes else None,
            "train_return": float(np.mean(self.returns)) if self.returns else None,
            "eval_success_rate": evaluation.success_rate,
            "eval_return": float(np.mean(evaluation.returns)),
        }
        self.records.append(record)
        self.returns, self.successes = [], []
        out = self.config.out
        policy.save(out / "policy.pt")
        if evaluation.success_rate > self.best_success:
            self.best_success = evaluation.success_rate
            policy.save(out / "policy_best.pt")
        write_learning_curve(self.records, out, f"{self.config.algo} / {self.config.observation} / {self.config.task}")
        self.progress.set_postfix(eval_success=f"{evaluation.success_rate:.0%}",
                                  train_success=(f"{record['train_success_rate']:.0%}"
                                                 if record["train_success_rate"] is not None else "-"))


def write_learning_curve(records: list[dict], out: Path, title: str) -> None:
    (out / "learning_curve.json").write_text(json.dumps({"title": title, "records": records}, indent=1))
    figure = Figure(figsize=(9, 3.5))
    success_axes, return_axes = figure.subplots(1, 2)
    steps = [r["env_steps"] for r in records]
    for axes, key, label in ((success_axes, "success_rate", "success rate"), (return_axes, "return", "episode return")):
        for prefix, style, name in (("train_", "C0.-", "training episodes (with exploration noise)"),
                                    ("eval_", "C1o-", "deterministic actor, fixed seeded episodes")):
            points = [(s, r[prefix + key]) for s, r in zip(steps, records) if r[prefix + key] is not None]
            if points:
                axes.plot(*zip(*points), style, label=name)
        axes.set_xlabel("env steps")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    success_axes.set_ylim(-0.02, 1.02)
    success_axes.legend(fontsize=7, loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out / "learning_curve.png", dpi=100)


def train(config: TrainConfig) -> dict:
    torch.set_num_threads(config.threads)
    config.out.mkdir(parents=True, exist_ok=True)
    self_model = frozen_self_model(config.self_model_data, config.keypoint_model) \
        if config.observation == "self_model" else None
    env_kwargs = {"max_episode_steps": config.max_episode_steps}
    envs = make_vector_env(config.num_envs, config.task, config.observation, self_model, config.scripted_grasp,
                           **env_kwargs)
    eval_env = make_env(config.task, config.observation, self_model, config.scripted_grasp, **env_kwargs)
    metadata = {"task": config.task, "train_seed": config.seed, "scripted_grasp": config.scripted_grasp,
                "self_model_data": str(config.self_model_data) if self_model else None,
                "keypoint_model_sha256": self_model.keypoint_model_sha256 if self_model else None,
                "keypoint_model": self_model.keypoint_model if self_model else None}
    recorder = TrainingRecorder(config, eval_env, metadata)
    interrupted = False
    # Ctrl-C and SIGTERM stop training cleanly (SIGINT too when started in the background, where the
    # shell had it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_sigterm = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        learn(config.td3_config(), envs, recorder)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: writing the policy and learning curve so far", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        try:
            envs.close(**({"terminate": True} if interrupted and config.num_envs > 1 else {}))
        except Exception as error:  # workers already hit by the same Ctrl-C
            print(f"closing the env workers: {error}", flush=True)
    recorder.progress.close()
    if not recorder.records or recorder.records[-1]["env_steps"] != recorder.env_steps:
        recorder.record()
    eval_env.close()
    wall_s = time.perf_counter() - recorder.started
    last = recorder.records[-1] if recorder.records else {}
    summary = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "td3_config": asdict(config.td3_config()),
        "env_steps": recorder.env_steps,
        "interrupted": interrupted,
        "wall_s": round(wall_s, 1),
        "env_steps_per_s": round(recorder.env_steps / wall_s, 1),
        "last_eval_success_rate": last.get("eval_success_rate"),
        "best_eval_success_rate": recorder.best_success,
        "eval_episodes": config.eval_episodes,
    }
    (config.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{config.algo} on {config.task} ({config.observation}): {recorder.env_steps} env steps in {wall_s:.0f} s "
          f"({summary['env_steps_per_s']}/s); last evaluation {last.get('eval_success_rate', float('nan')):.0%} and "
          f"best {recorder.best_success:.0%} success on {config.eval_episodes} episodes; wrote {config.out}/policy.pt, "
          f"policy_best.pt, learning_curve.png, summary.json", flush=True)
    return summary


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig(out=Path("."))
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--algo", choices=("td3", "ddpg"), default=d.algo)
    parser.add_argument("--observation", choices=OBSERVATION_KINDS, default=d.observation)
    parser.add_argument("--task", choices=("touch", "pick"), default=d.task)
    parser.add_argument("--steps", type=int, default=d.steps, help="env steps (transitions, all envs together)")
    parser.add_argument("--num-envs", type=int, default=d.num_envs, help="env copies, one process each")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="env steps between curve points")
    parser.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    parser.add_argument("--learning-starts", type=int, default=d.learning_starts)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--gamma", type=float, default=d.gamma)
    parser.add_argument("--max-episode-steps", type=int, default=d.max_episode_steps)
    parser.add_argument("--scripted-grasp", action="store_true",
                        help="the policy steers the hand in dx, dy, d-yaw; it descends by itself, closes and lifts "
                             "(smrl_policy.core.scripted_grasp)")
    parser.add_argument("--self-model-data", type=Path, default=d.self_model_data,
                        help="babbling dataset the self model is frozen on (collected if missing)")
    parser.add_argument("--keypoint-model", type=Path, default=None,
                        help="self_model: a keypoint model file (train-keypoints' model.pt); default the shipped one")
    parser.add_argument("--threads", type=int, default=d.threads, help="torch threads of the learner")
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.num_envs <= 0 or args.eval_every <= 0 or args.eval_episodes <= 0:
        parser.error("--steps, --num-envs, --eval-every and --eval-episodes must be positive")
    return TrainConfig(**{k.replace("-", "_"): v for k, v in vars(args).items()})


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
