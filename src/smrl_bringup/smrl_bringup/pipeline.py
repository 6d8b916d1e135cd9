"""From nothing to a touching arm in one command: data, keypoints, self model, policy, evaluation.

    ./smrl pipeline --out outputs/pipeline                  # ~15-25 min on 2 cores
    ./smrl pipeline --out outputs/pipeline --keypoint-steps 3000 --policy-steps 20000   # the shipped models' step counts (on less data)

Nothing shipped is used: every model is made here, from the simulator's pixels and joints.
  1. collect     Panda motor babbling, the object re-placed anywhere on the table every 0.3-0.8 s
                 (so that it moves by itself), plain and with sweeps through it (`--push-object`).
  2. keypoints   the Transporter on those frames, with the options that make a keypoint follow the
                 object (pixel transport, residual attention) and keep to one arm (coordinate
                 channels; smrl_perception's models README).
  3. self model  30 episodes of babbling (seed 777); the contingency labeller freezes on them
                 (inside step 4: the policy observes the labels of that frozen self model).
  4. policy      TD3 from the self-model observation (pixels -> keypoints -> labels, and joints).
  5. evaluate    100 seeded touch episodes (seeds 10000-10099): success with its Wilson 95 % CI,
                 beside random actions.
Each step is the project's own command, run as a subprocess with its own progress; a step whose
output is already in --out is skipped (delete it to redo). Ends with the wall time of each step
and the success, also in --out/summary.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

KEYPOINT_DATA = {"plain": [], "push": ["--push-object"]}
RELOCATE_OBJECT_EVERY_S = ("0.3", "0.8")


def stages(args: argparse.Namespace) -> list[tuple[str, Path, list[str]]]:
    """(name, output that shows it is done, module + arguments), in order."""
    out = args.out
    data = {name: out / "data" / f"keypoints_{name}" for name in KEYPOINT_DATA}
    keypoints, policy = out / "keypoints", out / "policy"
    collect = [
        (f"collect {name}", data[name] / "dataset.json",
         ["smrl_sim.core.collect", "--out", str(data[name]), "--episodes", str(args.keypoint_episodes),
          "--relocate-object-every-s", *RELOCATE_OBJECT_EVERY_S, "--seed", str(args.seed), *options])
        for name, options in KEYPOINT_DATA.items()]
    return collect + [
        ("keypoints", keypoints / "checkpoint.pt",
         ["smrl_perception.train", "--data", *map(str, data.values()), "--out", str(keypoints), "--keypoints", "8",
          "--steps", str(args.keypoint_steps), "--eval-every", str(max(args.keypoint_steps // 4, 1)),
          "--checkpoint-every", str(max(args.keypoint_steps // 8, 1)), "--threads", str(args.threads), "--no-resume",
          "--motion-weight", "10", "--pixel-transport", "--residual-attention-weight", "0.002",
          "--coordinate-channels", "--seed", str(args.seed)]),
        ("self model + policy", policy / "policy.pt",
         ["smrl_policy.train", "--algo", "td3", "--observation", "self_model", "--task", "touch",
          "--steps", str(args.policy_steps), "--num-envs", "2", "--seed", str(args.seed),
          "--self-model-data", str(out / "data" / "self_model_babbling"),
          "--keypoint-model", str(keypoints / "checkpoint.pt"), "--out", str(policy)]),
        ("evaluate", out / "evaluation" / "evaluation.json",
         ["smrl_policy.evaluate", "--task", "touch", "--episodes", "100", "--policies", str(policy / "policy.pt"),
          "--out", str(out / "evaluation")]),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/pipeline"))
    parser.add_argument("--keypoint-episodes", type=int, default=40, help="episodes of each keypoint dataset (60 frames)")
    parser.add_argument("--keypoint-steps", type=int, default=600, help="keypoint training steps")
    parser.add_argument("--policy-steps", type=int, default=10_000, help="TD3 env steps")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the keypoint training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    wall_s: dict[str, float] = {}
    started = time.monotonic()
    for name, done, command in stages(args):
        if done.exists():
            print(f"[pipeline] {name}: done before ({done}), skipped", flush=True)
            continue
        print(f"[pipeline] {name}: python -m {' '.join(command)}", flush=True)
        step_started = time.monotonic()
        if subprocess.run([sys.executable, "-m", *command]).returncode != 0:
            raise SystemExit(f"[pipeline] {name} failed; fix it and run the pipeline again (finished steps are kept)")
        wall_s[name] = round(time.monotonic() - step_started, 1)
        print(f"[pipeline] {name}: {wall_s[name]:.0f} s", flush=True)
    rows = json.loads((args.out / "evaluation" / "evaluation.json").read_text())["rows"]
    learned = rows[-1]
    summary = {"wall_s": wall_s, "total_wall_s": round(time.monotonic() - started, 1),
               "touch_success": {key: learned[key] for key in ("successes", "episodes", "ci95_low", "ci95_high")},
               "random_success": {key: rows[0][key] for key in ("successes", "episodes")},
               "settings": {key: str(value) for key, value in vars(args).items()}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in wall_s.items())
    print(f"[pipeline] done in {summary['total_wall_s'] / 60:.1f} min ({steps or 'every step done before'}); "
          f"touch from pixels: {learned['successes']}/{learned['episodes']} (95 % CI {learned['ci95_low']:.0%}-"
          f"{learned['ci95_high']:.0%}), random {rows[0]['successes']}/{rows[0]['episodes']}; {args.out}/summary.json",
          flush=True)


if __name__ == "__main__":
    main()
