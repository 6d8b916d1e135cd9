"""The main job: the node graph on the simulated arm, one process per node, with results to look at.

    ./smrl demo                     # 20 touch episodes by the shipped policy (~1 min); writes outputs/demo/
    ./smrl demo --babbling          # 45 s of babbling: the self model learns the arm from nothing
    ./smrl demo --babbling --distractor-arm   # 90 s, beside a look-alike arm moving on its own

The graph (smrl_bringup's config/graph.yaml, which `ros2 launch launch/demo.launch.py` starts
too): the sim, the keypoint node (camera -> learned keypoints), the self model node (keypoints +
joint states -> which keypoints are the agent, and where its body schema expects them), what
moves the arm, and the recorder, which writes the camera, joint states, keypoints, self model
states and episode results into outputs/demo/bag. The embedded starter runs each as its own
process; the run counts from the first self model state, and so do the pictures, rates and
latencies, read from the bag; drop counters from the nodes' logs (outputs/demo/logs); memory from /proc.

Touch episodes (the default): the policy node runs the shipped TD3 policy on the self model state
(smrl_policy's models/td3_self_model_touch.pt), and the episode runner resets seeded episodes
(seeds 10000, 10001, ... as `./smrl evaluate-policy`) and judges them by the sim's ground truth
(touched within 5 s of sim time). The self model starts from the labeller samples the policy was
trained with (its `.self_evidence.pt`) and labels on them alone, as the policy saw its self model
in training (`--self-model-keeps-learning`: it learns on from the policy's motion, which is no
evidence of self). Started knowing nothing, it calls every keypoint unknown for ~20 s, and on such
labels the policy touches in 25 of 100 episodes.

Babbling (`--babbling`): the scripted motion node moves the arm at random and the self model starts
knowing nothing: its labels stay "unknown" until the labeller has `min_evidence_samples` samples
of joint motion (~22 s of babbling); then the keypoints on the arm turn "self" one by one as the
evidence grows (by ~25 s alone; beside the look-alike arm, whose motion tugs at them, by ~50 s,
hence the longer default run). `self_model_strip.png` and `run.gif` show that over the run.
"""
from __future__ import annotations

import argparse
import importlib.resources
import json
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from PIL import Image
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from smrl_bringup.core.graph_description import load_graph
from smrl_bringup.core.node_logs import dropped_messages, held_commands, labeller_samples, rejected_commands
from smrl_bringup.core.node_processes import NodeProcesses
from smrl_bringup.core.process_memory import graph_memory_bytes
from smrl_bringup.demo_pictures import save_camera_strip, save_run_gif, save_self_model_strip
from smrl_bringup.progress_node import ProgressNode
from smrl_bringup.recorded_run import RecordedRun
from smrl_policy.core.evaluation import wilson_interval
from smrl_policy.freeze_self_model import evidence_path
from smrl_self_model.core.contingency import LABEL_SELF
from smrl_sim.core.scene import load_scene_config

KEPT_FRAMES = 400  # camera frames read from the bag for the pictures, spread over the whole run
DEFAULT_DURATION_S = 45.0
DISTRACTOR_DURATION_S = 90.0  # the labels settle by ~50 s beside the look-alike arm
DEFAULT_EPISODES = 20
#: Touch only: the pick policies act through the scripted grasp (smrl_policy.core.scripted_grasp),
#: which the policy node does not run yet.
TASK = "touch"
SHIPPED_POLICY = "td3_self_model_touch.pt"
EPISODE_ALLOWANCE_S = 8.0     # wall time per episode before the demo gives up waiting: 5 s of sim time + resets
RECORDER_DRAIN_S = 1.0        # after the last episode result, for the recorder to write it too
STARTUP_TIMEOUT_S = 120.0     # until the first self model state: imports and model loading, on a busy machine
MEMORY_SAMPLE_PERIOD_S = 1.0
REPORT_PERIOD_S = 5.0
NODES_WITH_DROP_COUNTERS = ("scripted_motion", "keypoint_detector", "self_model", "policy")


class GraphMemory:
    """Peak memory of the graph's processes over the run (sampled), in bytes."""

    def __init__(self) -> None:
        self.peak_total = {"rss": 0, "pss": 0}
        self.peak_by_node: dict[str, int] = {}  # RSS

    def sample(self, pids: dict[str, int]) -> int:
        """-> the graph's RSS now."""
        memory = graph_memory_bytes(pids)
        for kind, by_node in memory.items():
            self.peak_total[kind] = max(self.peak_total[kind], sum(by_node.values()))
        for name, rss in memory["rss"].items():
            self.peak_by_node[name] = max(self.peak_by_node.get(name, 0), rss)
        return sum(memory["rss"].values())


def stop_on_sigterm() -> None:
    """SIGTERM ends the demo as Ctrl-C does: through the `with` blocks, which stop the graph."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


def shipped_policy() -> Path:
    return Path(str(importlib.resources.files("smrl_policy") / "models" / SHIPPED_POLICY))


def episode_summary(run: RecordedRun, task: str, wanted: int) -> dict:
    """Success over the recorded episode results, with a Wilson 95 % interval."""
    outcomes = run.episodes
    successes = sum(outcome.success for outcome in outcomes)
    low, high = wilson_interval(successes, len(outcomes)) if outcomes else (0.0, 0.0)
    times = [outcome.elapsed_s for outcome in outcomes if outcome.success]
    return {"task": task, "episodes": len(outcomes), "episodes_wanted": wanted, "successes": successes,
            "ci95": [round(low, 3), round(high, 3)],
            "median_time_to_success_s": round(float(np.median(times)), 2) if times else None,
            "results": [{"seed": o.seed, "success": o.success, "elapsed_s": round(o.elapsed_s, 2)} for o in outcomes]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--babbling", action="store_true",
                        help="babble instead of running episodes: the self model learns the arm from nothing")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES, help="touch episodes to run")
    parser.add_argument("--policy", type=Path, default=None, help=f"policy file (default: the shipped {SHIPPED_POLICY})")
    parser.add_argument("--self-evidence", type=Path, default=None,
                        help="labeller samples the self model starts from (default: the policy's .self_evidence.pt "
                             "beside it, if there is one)")
    parser.add_argument("--self-model-keeps-learning", action="store_true",
                        help="with self evidence: the self model learns on from the policy's motion "
                             "(default: it labels on the evidence alone)")
    parser.add_argument("--duration-s", type=float, default=None,
                        help=f"--babbling: run time (s); default {DEFAULT_DURATION_S:.0f}, {DISTRACTOR_DURATION_S:.0f} "
                             f"with --distractor-arm; episodes: the most to wait for them")
    parser.add_argument("--image-size", type=int, default=0,
                        help="camera width=height in px; 0: the scene's (the shipped keypoint model wants 64)")
    parser.add_argument("--scene", default="default")
    parser.add_argument("--distractor-arm", action="store_true", help="add the look-alike arm that moves on its own")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"))
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    policy = self_evidence = None
    if not args.babbling:
        policy = (args.policy or shipped_policy()).resolve()
        self_evidence = args.self_evidence or (evidence_path(policy) if evidence_path(policy).is_file() else None)
    if args.duration_s is None:
        args.duration_s = (args.episodes * EPISODE_ALLOWANCE_S if policy else
                           DISTRACTOR_DURATION_S if args.distractor_arm else DEFAULT_DURATION_S)
    bag, log_dir = args.out / "bag", args.out / "logs"
    shutil.rmtree(bag, ignore_errors=True)  # the recorder starts a new bag, never appends
    args.out.mkdir(parents=True, exist_ok=True)
    nodes = load_graph().resolve({
        "scene": args.scene, "robot": load_scene_config(args.scene).robot, "image_size": str(args.image_size),
        "distractor_arm": str(args.distractor_arm).lower(), "record": str(bag.resolve()), "task": TASK,
        "policy": str(policy or ""), "self_evidence": str(self_evidence.resolve() if self_evidence else ""),
        "self_model_keeps_learning": str(args.self_model_keeps_learning).lower(), "episodes": str(args.episodes)})
    stop_on_sigterm()

    memory = GraphMemory()
    started = time.monotonic()
    # rclpy leaves SIGINT to Python here: KeyboardInterrupt leaves the `with` blocks, which stop the graph.
    with rclpy.init(signal_handler_options=SignalHandlerOptions.NO), NodeProcesses(nodes, log_dir) as graph:
        print(f"[demo] started {', '.join(n.name for n in nodes)} as separate processes (logs in {log_dir})",
              flush=True)
        progress = ProgressNode()
        executor = SingleThreadedExecutor()
        executor.add_node(progress)
        while not progress.states_received:
            executor.spin_once(timeout_sec=0.1)
            if graph.poll() or time.monotonic() - started > STARTUP_TIMEOUT_S:
                raise SystemExit(f"[demo] the graph did not come up: see the logs in {log_dir}")
        startup_s = time.monotonic() - started
        plan = (f"{args.episodes} {TASK} episodes by {policy.name} (at most {args.duration_s:.0f} s)" if policy
                else f"babbling for {args.duration_s:.0f} s")
        print(f"[demo] the graph is up after {startup_s:.1f} s; {plan} ...", flush=True)
        run_started, run_started_ns = time.monotonic(), time.time_ns()
        next_sample = next_report = run_started
        while time.monotonic() - run_started < args.duration_s and \
                not (policy and len(progress.episode_results) >= args.episodes):
            executor.spin_once(timeout_sec=0.05)
            graph.poll()  # a node that dies is reported at once; the run goes on without it
            now = time.monotonic()
            if now >= next_sample:
                graph_rss = memory.sample(graph.pids())
                next_sample += MEMORY_SAMPLE_PERIOD_S
            if now >= next_report + REPORT_PERIOD_S:
                next_report += REPORT_PERIOD_S
                episodes = (f"; episodes {len(progress.episode_results)}/{args.episodes}, "
                            f"{sum(r.success for r in progress.episode_results)} succeeded") if policy else ""
                print(f"[demo] {now - run_started:4.0f} s: {len(graph.pids())} nodes running, "
                      f"{graph_rss / 1e6:.0f} MB RSS; self model states {progress.states_received}, "
                      f"self keypoints {progress.self_keypoints}{episodes}", flush=True)
        wall_s = time.monotonic() - run_started
        drain_until = time.monotonic() + (RECORDER_DRAIN_S if policy else 0.0)
        while time.monotonic() < drain_until:
            executor.spin_once(timeout_sec=0.05)
        progress.destroy_node()
        exit_codes = graph.stop()

    run = RecordedRun.read(bag, KEPT_FRAMES, since_ns=run_started_ns)
    if not run.frames:
        raise SystemExit(f"[demo] no camera image was recorded: see the logs in {log_dir}")
    logs = {name: graph.log_path(name).read_text(errors="replace") for name in exit_codes}
    frames = list(run.frames.values())
    Image.fromarray(frames[-1]).save(args.out / "camera.png")
    Image.fromarray(frames[-1]).resize((256, 256), Image.NEAREST).save(args.out / "camera_x4.png")
    pictures = [args.out / "camera.png", args.out / "camera_x4.png", save_camera_strip(frames, args.out / "camera_strip.png"),
                save_self_model_strip(run, args.out / "self_model_strip.png"), save_run_gif(run, args.out / "run.gif")]
    joints = np.array(run.joint_positions)
    final = run.states[-1] if run.states else None
    recent_errors = [s.prediction_error_px for s in run.states[-100:]]
    summary = {
        "mode": "episodes" if policy else "babbling",
        "policy": str(policy) if policy else None,
        "self_evidence": str(self_evidence) if self_evidence else None,
        "self_model_learns": args.self_model_keeps_learning or not self_evidence,
        "episodes": episode_summary(run, TASK, args.episodes) if policy else None,
        "latency_image_to_command_ms": run.policy_latency_ms() if policy else None,
        "duration_s": round(wall_s, 1),
        "startup_s": round(startup_s, 1),
        "nodes": {name: {"exit_code": code, "died": name in {d.name for d in graph.died}} for name, code in exit_codes.items()},
        "received": dict(run.received),
        "rates_hz": run.rates_hz(),
        "latency_image_to_stage_ms": run.stage_latency_ms(),
        "graph_memory_mb": {
            "rss_total_peak": round(memory.peak_total["rss"] / 1e6), "pss_total_peak": round(memory.peak_total["pss"] / 1e6),
            "rss_peak_by_node": {name: round(rss / 1e6) for name, rss in memory.peak_by_node.items()}},
        "joint_range_rad": np.round(joints.max(axis=0) - joints.min(axis=0), 2).tolist() if len(joints) else [],
        "rejected_commands": rejected_commands(logs.get("sim", "")),
        "dropped": {name: dropped_messages(logs[name]) for name in NODES_WITH_DROP_COUNTERS if name in logs},
        "commands_held": held_commands(logs.get("policy", "")),
        "labeller_samples": labeller_samples(logs.get("self_model", "")),
        "final_labels": final.labels.tolist() if final else [],
        "self_keypoints": np.flatnonzero(final.labels == LABEL_SELF).tolist() if final else [],
        "final_frame_labels": final.frame_labels.tolist() if final else [],
        "self_scores": np.round(final.self_scores, 2).tolist() if final else [],
        "body_schema_keypoints": np.flatnonzero(final.predicted).tolist() if final else [],
        "body_schema_error_px_last_100": round(float(np.mean(recent_errors)), 2) if recent_errors else None,
        "bag": str(bag),
        "files": [str(p) for p in pictures if p],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"[demo] done in {summary['duration_s']} s: rates {summary['rates_hz']} Hz; dropped {summary['dropped']}")
    print(f"[demo] graph: {len(exit_codes)} processes, peak {summary['graph_memory_mb']['rss_total_peak']} MB RSS "
          f"({summary['graph_memory_mb']['pss_total_peak']} MB PSS); image stamp -> received, medians: "
          + ", ".join(f"{topic} {latency['median']} ms" for topic, latency in summary["latency_image_to_stage_ms"].items())
          + f"; recorded {dict(run.received)} into {bag}")
    print(f"[demo] self model: {summary['labeller_samples']} labeller samples, labels {summary['final_labels']} "
          f"(1 self, 2 world, 0 unknown), self keypoints {summary['self_keypoints']}, in the last frame "
          f"{summary['final_frame_labels']}; body schema error "
          f"{summary['body_schema_error_px_last_100']} px (mean of the last 100 frames)")
    if policy:
        e = summary["episodes"]
        seeds = [r["seed"] for r in e["results"]]
        print(f"[demo] {e['task']}: {e['successes']}/{e['episodes']} episodes succeeded (95 % CI "
              f"{e['ci95'][0]:.0%}-{e['ci95'][1]:.0%}; seeds {min(seeds, default='-')}-{max(seeds, default='-')}), median "
              f"{e['median_time_to_success_s']} s to success; image -> arm command latency "
              f"{summary['latency_image_to_command_ms']} ms")
    if graph.died:
        print(f"[demo] nodes that died during the run: {[d.name for d in graph.died]} (see their logs in {log_dir})")
    print(f"[demo] look at {args.out / 'self_model_strip.png'}, {args.out / 'run.gif'} and "
          f"{args.out / 'camera_strip.png'} (summary: {args.out / 'summary.json'})")
    if graph.died:
        sys.exit(1)


if __name__ == "__main__":
    main()
