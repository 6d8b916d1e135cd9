"""The main job: the node graph running on the sim, with results to look at.

    ./smrl demo                     # 20 s, writes outputs/demo/
    ./smrl demo --duration-s 60 --image-size 128

The same node classes that `ros2 launch launch/smrl_demo.launch.py` starts as separate processes
run here in one process (ROS 2 manual composition), so the demo needs no ROS tools beyond rclpy.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import rclpy
from PIL import Image as PilImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState

from smrl_sim.image_messages import image_msg_to_rgb
from smrl_sim.scripted_motion_node import ScriptedMotionNode
from smrl_sim.sim_node import SimNode


class DemoRecorder(Node):
    """Watches the camera and joint states and keeps what the summary and the PNG need."""

    def __init__(self) -> None:
        super().__init__("demo_recorder")
        self.frames: list[np.ndarray] = []
        self.images = 0
        self.joint_positions: list[list[float]] = []
        self.create_subscription(Image, "camera/image_raw", self.on_image, qos_profile_sensor_data)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, 10)

    def on_image(self, msg: Image) -> None:
        self.images += 1
        if self.images % 15 == 1:
            self.frames.append(image_msg_to_rgb(msg).copy())

    def on_joint_state(self, msg: JointState) -> None:
        self.joint_positions.append(list(msg.position))


def save_strip(frames: list[np.ndarray], path: Path, count: int = 8, scale: int = 4) -> None:
    chosen = [frames[i] for i in np.linspace(0, len(frames) - 1, min(count, len(frames))).astype(int)]
    strip = np.concatenate(chosen, axis=1)
    image = PilImage.fromarray(strip)
    image.resize((image.width * scale, image.height * scale), PilImage.NEAREST).save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--image-size", type=int, default=0, help="camera width=height in px; 0: the scene's")
    parser.add_argument("--scene", default="default")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with rclpy.init():
        sim = SimNode(parameter_overrides=[
            Parameter("scene", value=args.scene),
            Parameter("image_width", value=args.image_size),
            Parameter("image_height", value=args.image_size),
        ])
        motion = ScriptedMotionNode(parameter_overrides=[Parameter("robot", value=sim.world.robot.config.name)])
        recorder = DemoRecorder()
        executor = SingleThreadedExecutor()
        for node in (sim, motion, recorder):
            executor.add_node(node)
        print(f"[demo] running the sim and a scripted motion for {args.duration_s:.0f} s ...", flush=True)
        started = time.monotonic()
        next_report = started + 5.0
        while time.monotonic() - started < args.duration_s:
            executor.spin_once(timeout_sec=0.05)
            if time.monotonic() >= next_report:
                print(f"[demo] {time.monotonic() - started:4.0f} s: {recorder.images} images, "
                      f"{len(recorder.joint_positions)} joint states", flush=True)
                next_report += 5.0
        wall_s = time.monotonic() - started
        if not recorder.frames:
            raise SystemExit("[demo] no camera image arrived: check the log above")
        PilImage.fromarray(recorder.frames[-1]).save(args.out / "camera.png")
        PilImage.fromarray(recorder.frames[-1]).resize((256, 256), PilImage.NEAREST).save(args.out / "camera_x4.png")
        save_strip(recorder.frames, args.out / "camera_strip.png")
        joints = np.array(recorder.joint_positions)
        summary = {
            "duration_s": round(wall_s, 1),
            "camera_images": recorder.images,
            "camera_rate_hz": round(recorder.images / wall_s, 1),
            "joint_states": len(joints),
            "joint_range_rad": np.round(joints.max(axis=0) - joints.min(axis=0), 2).tolist() if len(joints) else [],
            "rejected_commands": dict(sim.arm_guard.rejections + sim.gripper_guard.rejections),
            "files": [str(args.out / f) for f in ("camera.png", "camera_x4.png", "camera_strip.png")],
        }
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        for node in (recorder, motion, sim):
            node.destroy_node()
    print(f"[demo] done: {summary['camera_images']} images at {summary['camera_rate_hz']} Hz, "
          f"{summary['joint_states']} joint states; joints moved by up to {max(summary['joint_range_rad'] or [0]):.2f} rad")
    print(f"[demo] look at {args.out / 'camera_strip.png'} (summary: {args.out / 'summary.json'})")


if __name__ == "__main__":
    main()
