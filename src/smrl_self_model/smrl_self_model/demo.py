"""The main job: the node graph on the simulated arm, with results to look at.

    ./smrl demo                     # 45 s, writes outputs/demo/
    ./smrl demo --distractor-arm    # 90 s, with a look-alike arm moving on its own: it must stay "world"

The graph: the sim, the scripted motion node babbling (random joint targets), the keypoint node
(camera -> learned keypoints) and the self model node (keypoints + joint states -> which keypoints
are the agent, and where its body schema expects them). The same node classes that `ros2 launch
launch/demo.launch.py` starts as separate processes run here in one process (ROS 2 manual
composition), so the demo needs no ROS tools beyond rclpy.

The self model starts knowing nothing: its labels stay "unknown" until the labeller has
`min_evidence_samples` samples of joint motion (~22 s of babbling); then the keypoints on the arm
turn "self" one by one as the evidence grows (by ~25 s alone; beside the look-alike arm, whose
motion tugs at them, by ~50 s, hence the longer default run). `self_model_strip.png` shows that
over the run.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from PIL import Image as PilImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import Image, JointState

from smrl_msgs.msg import KeypointArray, SelfModelState
from smrl_perception.keypoint_node import KeypointNode
from smrl_self_model.core.contingency import LABEL_SELF
from smrl_self_model.core.evaluation import draw_labelled_frames
from smrl_self_model.self_model_node import SelfModelNode
from smrl_sim.image_messages import image_msg_to_rgb
from smrl_sim.scripted_motion_node import ScriptedMotionNode
from smrl_sim.sim_node import SimNode

KEPT_FRAMES = 400  # camera frames kept for the strips, spread over the whole run
DEFAULT_DURATION_S = 45.0
DISTRACTOR_DURATION_S = 90.0  # the labels settle by ~50 s beside the look-alike arm


@dataclass
class StateSnapshot:
    """What the strip needs of one self model state."""
    stamp_ns: int
    centers: np.ndarray        # (K, 2) normalised
    labels: np.ndarray         # (K,) LABEL_*, per keypoint
    frame_labels: np.ndarray   # (K,) LABEL_*, in this frame
    prediction_error_px: float


class DemoRecorder(Node):
    """Watches the graph's topics and keeps what the summary and the PNGs need."""

    def __init__(self, frame_stride: int) -> None:
        super().__init__("demo_recorder")
        self.frame_stride = frame_stride          # keep every frame_stride-th camera image
        self.frames: dict[int, np.ndarray] = {}  # image stamp (ns) -> rgb
        self.received: Counter = Counter()        # topic -> messages
        self.joint_positions: list[list[float]] = []
        self.states: list[StateSnapshot] = []
        self.create_subscription(Image, "camera/image_raw", self.on_image, qos_profile_sensor_data)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, 10)
        self.create_subscription(KeypointArray, "keypoints", self.on_keypoints, qos_profile_sensor_data)
        self.create_subscription(SelfModelState, "self_model/state", self.on_state, qos_profile_sensor_data)

    def on_image(self, msg: Image) -> None:
        self.received["camera/image_raw"] += 1
        if (self.received["camera/image_raw"] - 1) % self.frame_stride == 0:
            self.frames[Time.from_msg(msg.header.stamp).nanoseconds] = image_msg_to_rgb(msg).copy()

    def on_joint_state(self, msg: JointState) -> None:
        self.received["joint_states"] += 1
        self.joint_positions.append(list(msg.position))

    def on_keypoints(self, msg: KeypointArray) -> None:
        self.received["keypoints"] += 1

    def on_state(self, msg: SelfModelState) -> None:
        self.received["self_model/state"] += 1
        self.states.append(StateSnapshot(
            Time.from_msg(msg.header.stamp).nanoseconds, np.array([(k.x_norm, k.y_norm) for k in msg.keypoints]),
            np.array(msg.labels, dtype=np.uint8), np.array(msg.frame_labels, dtype=np.uint8), msg.prediction_error_px))

    def states_with_frames(self) -> list[StateSnapshot]:
        return [state for state in self.states if state.stamp_ns in self.frames]


def evenly(items: list, count: int) -> list:
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).astype(int)] if items else []


def save_camera_strip(frames: list[np.ndarray], path: Path, count: int = 8, scale: int = 4) -> Path:
    image = PilImage.fromarray(np.concatenate(evenly(frames, count), axis=1))
    image.resize((image.width * scale, image.height * scale), PilImage.NEAREST).save(path)
    return path


def save_self_model_strip(recorder: DemoRecorder, path: Path, count: int = 8) -> Path | None:
    """Frames spread over the run, keypoints coloured by their labels in that frame: how the agent
    finds itself."""
    chosen = evenly(recorder.states_with_frames(), count)
    if not chosen:
        return None
    times = ", ".join(f"{(s.stamp_ns - chosen[0].stamp_ns) * 1e-9:.0f}" for s in chosen)
    return draw_labelled_frames(
        path, np.stack([recorder.frames[s.stamp_ns] for s in chosen]), np.stack([s.centers for s in chosen]),
        np.stack([s.frame_labels for s in chosen]), title=f"live self model labels per frame at {times} s of the demo")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=None,
                        help=f"run time (s); default {DEFAULT_DURATION_S:.0f}, {DISTRACTOR_DURATION_S:.0f} with --distractor-arm")
    parser.add_argument("--image-size", type=int, default=0,
                        help="camera width=height in px; 0: the scene's (the shipped keypoint model wants 64)")
    parser.add_argument("--scene", default="default")
    parser.add_argument("--distractor-arm", action="store_true", help="add the look-alike arm that moves on its own")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"))
    args = parser.parse_args(argv)
    if args.duration_s is None:
        args.duration_s = DISTRACTOR_DURATION_S if args.distractor_arm else DEFAULT_DURATION_S
    args.out.mkdir(parents=True, exist_ok=True)

    with rclpy.init():
        sim = SimNode(parameter_overrides=[
            Parameter("scene", value=args.scene),
            Parameter("image_width", value=args.image_size),
            Parameter("image_height", value=args.image_size),
            Parameter("distractor_arm", value=args.distractor_arm),
        ])
        nodes = [
            sim,
            ScriptedMotionNode(parameter_overrides=[Parameter("robot", value=sim.world.robot.config.name),
                                                    Parameter("pattern", value="babbling"),
                                                    # the babbling speed of the recorded datasets
                                                    Parameter("speed_scale", value=1.0)]),
            KeypointNode(),
            SelfModelNode(),
        ]
        keypoint_node, self_model_node = nodes[2], nodes[3]
        recorder = DemoRecorder(frame_stride=max(1, round(args.duration_s / sim.camera_period_s / KEPT_FRAMES)))
        executor = SingleThreadedExecutor()
        for node in (*nodes, recorder):
            executor.add_node(node)
        print(f"[demo] running sim, scripted motion, keypoints and self model for {args.duration_s:.0f} s ...",
              flush=True)
        started = time.monotonic()
        next_report = started + 5.0
        while time.monotonic() - started < args.duration_s:
            executor.spin_once(timeout_sec=0.05)
            if time.monotonic() >= next_report:
                labels = recorder.states[-1].labels if recorder.states else np.empty(0)
                print(f"[demo] {time.monotonic() - started:4.0f} s: received {dict(recorder.received)}; "
                      f"labeller samples {self_model_node.labeller.num_samples}, "
                      f"self keypoints {np.flatnonzero(labels == LABEL_SELF).tolist()}", flush=True)
                next_report += 5.0
        wall_s = time.monotonic() - started
        if not recorder.frames:
            raise SystemExit("[demo] no camera image arrived: check the log above")
        newest = list(recorder.frames.values())
        PilImage.fromarray(newest[-1]).save(args.out / "camera.png")
        PilImage.fromarray(newest[-1]).resize((256, 256), PilImage.NEAREST).save(args.out / "camera_x4.png")
        files = [args.out / "camera.png", args.out / "camera_x4.png",
                 save_camera_strip(newest, args.out / "camera_strip.png")]
        strip = save_self_model_strip(recorder, args.out / "self_model_strip.png")
        files += [strip] if strip else []
        joints = np.array(recorder.joint_positions)
        final = recorder.states[-1] if recorder.states else None
        recent_errors = [s.prediction_error_px for s in recorder.states[-100:]]
        summary = {
            "duration_s": round(wall_s, 1),
            "received": dict(recorder.received),
            "rates_hz": {topic: round(count / wall_s, 1) for topic, count in recorder.received.items()},
            "joint_range_rad": np.round(joints.max(axis=0) - joints.min(axis=0), 2).tolist() if len(joints) else [],
            "rejected_commands": dict(sim.arm_guard.rejections + sim.gripper_guard.rejections),
            "dropped": {"keypoint_node": dict(keypoint_node.dropped), "self_model_node": dict(self_model_node.dropped)},
            "labeller_samples": self_model_node.labeller.num_samples,
            "final_labels": final.labels.tolist() if final else [],
            "self_keypoints": np.flatnonzero(final.labels == LABEL_SELF).tolist() if final else [],
            "final_frame_labels": final.frame_labels.tolist() if final else [],
            "self_scores": np.round(self_model_node.labeller.scores, 2).tolist(),
            "body_schema_keypoints": self_model_node.schema.self_keypoint_indices,
            "body_schema_error_px_last_100": round(float(np.mean(recent_errors)), 2) if recent_errors else None,
            "files": [str(f) for f in files],
        }
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        for node in (recorder, *reversed(nodes)):
            node.destroy_node()
    print(f"[demo] done in {summary['duration_s']} s: rates {summary['rates_hz']} Hz; dropped {summary['dropped']}")
    print(f"[demo] self model: {summary['labeller_samples']} labeller samples, labels {summary['final_labels']} "
          f"(1 self, 2 world, 0 unknown), self keypoints {summary['self_keypoints']}, in the last frame "
          f"{summary['final_frame_labels']}; body schema error "
          f"{summary['body_schema_error_px_last_100']} px (mean of the last 100 frames)")
    print(f"[demo] look at {args.out / 'self_model_strip.png'} and {args.out / 'camera_strip.png'} "
          f"(summary: {args.out / 'summary.json'})")


if __name__ == "__main__":
    main()
