"""How fast the sim renders, and how much of that the sim node delivers over ROS 2.

    ./smrl bench-sim                       # 64 and 128 px, 10 s each
    ./smrl bench-sim --sizes 64 --seconds 5 --json outputs/bench_sim.json

For each image size: (1) the raw rate of one physics step + one render in a plain loop, and (2) the
sim node's achieved rate with camera and physics ticks unthrottled (one step + one image per tick),
counted by a subscriber. The two alternate in short windows (medians reported) so that both see the
same machine load. The node should reach at least 90% of the raw rate.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from smrl_sim.core.scene import SimWorld, load_scene_config


def raw_loop(size: int, frames: "multiprocessing.sharedctypes.Synchronized") -> None:
    """One physics step + one render per frame, forever, counting frames (runs in its own process)."""
    world = SimWorld(load_scene_config("default", camera={"width": size, "height": size}))
    world.reset(np.random.default_rng(0))
    while True:
        world.step()
        world.render()
        frames.value += 1


def compare(size: int, seconds: float, rounds: int, domain_id: int) -> tuple[float, float]:
    """Median raw and node rates, measured in alternating windows.

    The raw loop and the node each run in a process of their own, and each is paused (SIGSTOP)
    while the other is measured, so both see the same machine load; a subscriber here counts the
    node's images, a shared counter the raw loop's frames.
    """
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    command = [sys.executable, "-m", "smrl_sim.sim_node", "--ros-args", "--log-level", "warn",
               "-p", "physics_rate_hz:=1000000.0", "-p", "camera_rate_hz:=1000000.0",
               "-p", f"image_width:={size}", "-p", f"image_height:={size}"]
    node_process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    os.environ.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context)
    raw_frames = multiprocessing.get_context("spawn").Value("q", 0, lock=False)
    raw_process = multiprocessing.get_context("spawn").Process(target=raw_loop, args=(size, raw_frames), daemon=True)
    raw_process.start()
    os.kill(raw_process.pid, signal.SIGSTOP)
    try:
        node = rclpy.create_node("sim_benchmark", context=context)
        arrivals: list[float] = []
        node.create_subscription(Image, "camera/image_raw", lambda _: arrivals.append(time.perf_counter()),
                                 qos_profile_sensor_data)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)

        def spin_for(duration_s: float) -> None:
            until = time.perf_counter() + duration_s
            while time.perf_counter() < until:
                executor.spin_once(timeout_sec=0.05)

        deadline = time.perf_counter() + 30.0
        while len(arrivals) < 50 and time.perf_counter() < deadline:  # start-up and discovery
            spin_for(0.1)
        if len(arrivals) < 50:
            raise RuntimeError("the sim node published no images within 30 s")
        raw_rates, node_rates = [], []
        for _ in range(rounds):
            node_process.send_signal(signal.SIGSTOP)
            spin_for(0.2)  # drain what is in flight
            os.kill(raw_process.pid, signal.SIGCONT)
            time.sleep(0.3)
            window_start, count_before = time.perf_counter(), raw_frames.value
            time.sleep(seconds)
            raw_rates.append((raw_frames.value - count_before) / (time.perf_counter() - window_start))
            os.kill(raw_process.pid, signal.SIGSTOP)
            node_process.send_signal(signal.SIGCONT)
            spin_for(0.3)  # let it get going again
            window_start = time.perf_counter()
            count_before = len(arrivals)
            spin_for(seconds)
            node_rates.append((len(arrivals) - count_before) / (time.perf_counter() - window_start))
        return float(np.median(raw_rates)), float(np.median(node_rates))
    finally:
        node_process.send_signal(signal.SIGCONT)
        node_process.terminate()
        node_process.wait(timeout=10)
        raw_process.kill()
        rclpy.shutdown(context=context)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measuring window")
    parser.add_argument("--rounds", type=int, default=5, help="alternating raw/node windows per size")
    parser.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", 0)) or 42)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    print(f"{'size':>6} {'raw step+render /s':>20} {'sim node images /s':>20} {'node/raw':>9}")
    for size in args.sizes:
        raw, node = compare(size, args.seconds, args.rounds, args.domain_id)
        results.append({"size_px": size, "raw_hz": round(raw, 1), "node_hz": round(node, 1), "ratio": round(node / raw, 3)})
        print(f"{size:>4}px {raw:>20.1f} {node:>20.1f} {node / raw:>8.0%}", flush=True)
    print(f"summary: node reaches {min(r['ratio'] for r in results):.0%} of the raw rate at worst "
          f"(goal: at least 90%); {os.cpu_count()} CPU cores")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "cpu_count": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
