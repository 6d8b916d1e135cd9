"""Evaluate policies on the same fixed, seeded episodes: success with a Wilson 95 % interval.

    python -m smrl_policy.evaluate --task touch --episodes 100 \
        --policies src/smrl_policy/smrl_policy/models/td3_privileged_touch.pt --out outputs/policy/eval_touch
    ./smrl evaluate-policy --help

Always evaluates a uniform random policy; `--policies` adds any policy files (each opened by its
format name, `load_policy`, and run with the observation it was trained on; self_model policies
re-freeze the self model on the dataset named in their file, or `--self-model-data`). Without
`--policies`, the shipped privileged TD3 policy of the task is evaluated when there is one.
A policy trained with the scripted grasp (its file says `scripted_grasp`) is run with it, its grasps'
env steps counted in the `--max-episode-steps` budget. Episode i is `reset(seed=--first-seed + i)`
for every policy. `--blank-keypoints K ...` adds a row per self_model policy with those keypoints'
positions held at the image centre (their labels and intensities kept): it shows which keypoints a
policy steers by (the cube's keypoint 0 of the shipped ones: touch falls from 100 to 61 %, pick
from 83 to 0 %).
Writes `evaluation.md` (a table) and `evaluation.json` into --out.
"""
from __future__ import annotations

import argparse
import importlib.resources
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from smrl_policy.core.environments import FrozenSelfModel, make_env
from smrl_policy.core.evaluation import run_episodes
from smrl_policy.core.policy import RandomPolicy, load_policy

SHIPPED = {"touch": "td3_privileged_touch.pt", "pick": "td3_privileged_pick.pt"}


def shipped_policy(name: str) -> Path | None:
    path = Path(str(importlib.resources.files("smrl_policy") / "models" / name))
    return path if path.is_file() else None


def scripted_grasp_of(policy) -> bool:
    """Whether the policy was trained with the scripted grasp (its file says so; older files did not)."""
    return bool(getattr(policy, "metadata", {}).get("scripted_grasp", False))


@dataclass(frozen=True)
class EvaluateConfig:
    out: Path
    task: str = "touch"
    episodes: int = 100
    first_seed: int = 10_000
    policies: tuple[Path, ...] = ()
    self_model_data: Path | None = None
    max_episode_steps: int = 50
    blank_keypoints: tuple[int, ...] = ()


def evaluate(config: EvaluateConfig) -> list[dict]:
    torch.set_num_threads(1)
    policies = list(config.policies)
    if not policies and shipped_policy(SHIPPED[config.task]) is not None:
        policies = [shipped_policy(SHIPPED[config.task])]
    loaded = {path: load_policy(path) for path in policies}
    candidates = [("random", None, ())] + [(str(path), path, ()) for path in policies]
    if config.blank_keypoints:
        candidates += [(str(path), path, config.blank_keypoints) for path in policies
                       if loaded[path].observation_kind == "self_model"]
        if len(candidates) == 1 + len(policies):
            raise SystemExit("error: --blank-keypoints is for self_model policies, and none was given")
    rows = []
    self_models: dict[tuple[str, str | None], FrozenSelfModel] = {}  # (dataset, keypoint model) -> self model
    for name, path, blanked in candidates:
        started = time.perf_counter()
        if path is None:
            env = make_env(config.task, "privileged", max_episode_steps=config.max_episode_steps)
            policy = RandomPolicy(env.action_space.shape[0], seed=config.first_seed)
        else:
            policy = loaded[path]
            self_model = None
            if policy.observation_kind == "self_model":
                metadata = getattr(policy, "metadata", {})
                key = (str(config.self_model_data or metadata.get("self_model_data")), metadata.get("keypoint_model"))
                if key not in self_models:
                    try:
                        self_models[key] = FrozenSelfModel.for_policy(metadata, config.self_model_data)
                    except ValueError as error:
                        raise SystemExit(f"error: {path}: {error}") from None
                self_model = self_models[key]
            try:
                env = make_env(config.task, policy.observation_kind, self_model, scripted_grasp_of(policy), blanked,
                               max_episode_steps=config.max_episode_steps,
                               max_joint_delta_rad=policy.max_joint_delta_rad)
            except ValueError as error:
                raise SystemExit(f"error: {path}: {error}") from None
        result = run_episodes(policy, env, config.episodes, config.first_seed)
        env.close()
        metadata = getattr(policy, "metadata", {})
        row = {"policy": name, "blanked_keypoints": list(blanked),
               "observation": policy.observation_kind if path else "-", "algo": metadata.get("algo", "random"),
               "trained_task": metadata.get("task"), "trained_env_steps": metadata.get("env_steps"),
               **result.summary(), "wall_s": round(time.perf_counter() - started, 1)}
        rows.append(row)
        print(f"{name}{blanked_note(blanked)}: {row['successes']}/{row['episodes']} = {row['success_rate']:.0%} "
              f"(95 % CI {row['ci95_low']:.0%}-{row['ci95_high']:.0%})", flush=True)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "evaluation.json").write_text(json.dumps(
        {"task": config.task, "episodes": config.episodes, "first_seed": config.first_seed, "rows": rows}, indent=2))
    (config.out / "evaluation.md").write_text(markdown_table(config, rows))
    print(markdown_table(config, rows))
    return rows


def blanked_note(keypoints) -> str:
    return f" (keypoints {', '.join(map(str, keypoints))} at the image centre)" if keypoints else ""


def markdown_table(config: EvaluateConfig, rows: list[dict]) -> str:
    lines = [f"Task `{config.task}`, {config.episodes} episodes (seeds {config.first_seed}-"
             f"{config.first_seed + config.episodes - 1}, the same for every policy), at most "
             f"{config.max_episode_steps} steps each.", "",
             "| policy | observation | algo | trained env steps | success | 95 % CI (Wilson) | mean return | mean length |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{Path(r['policy']).name}`{blanked_note(r['blanked_keypoints'])} | {r['observation']} | "
                     f"{r['algo']} | {r['trained_env_steps'] or '-'} | "
                     f"{r['successes']}/{r['episodes']} = {r['success_rate']:.0%} | "
                     f"{r['ci95_low']:.0%}-{r['ci95_high']:.0%} | {r['mean_return']:.2f} | {r['mean_length']:.1f} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> EvaluateConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = EvaluateConfig(out=Path("."))
    parser.add_argument("--out", type=Path, required=True, help="folder for evaluation.md and evaluation.json")
    parser.add_argument("--task", choices=("touch", "pick"), default=d.task)
    parser.add_argument("--episodes", type=int, default=d.episodes)
    parser.add_argument("--first-seed", type=int, default=d.first_seed)
    parser.add_argument("--policies", type=Path, nargs="*", default=[], help="policy files to evaluate")
    parser.add_argument("--self-model-data", type=Path, default=None,
                        help="babbling dataset for self_model policies (default: the one named in the file)")
    parser.add_argument("--max-episode-steps", type=int, default=d.max_episode_steps)
    parser.add_argument("--blank-keypoints", type=int, nargs="+", default=[], metavar="K",
                        help="also run each self_model policy with these keypoints held at the image centre")
    args = parser.parse_args(argv)
    if args.episodes <= 0:
        parser.error("--episodes must be positive")
    if any(k < 0 for k in args.blank_keypoints):
        parser.error("--blank-keypoints takes keypoint indices (>= 0)")
    return EvaluateConfig(out=args.out, task=args.task, episodes=args.episodes, first_seed=args.first_seed,
                          policies=tuple(args.policies), self_model_data=args.self_model_data,
                          max_episode_steps=args.max_episode_steps, blank_keypoints=tuple(args.blank_keypoints))


def main(argv: list[str] | None = None) -> None:
    from smrl_self_model.core.model_file import ModelFileError
    try:
        evaluate(parse_args(argv))
    except ModelFileError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
