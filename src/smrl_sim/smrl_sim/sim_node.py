"""The sim node: the PyBullet arm behind the same topics a real arm's driver and camera offer.

Contract (docs/architecture.md): camera image + info out (sensor-data QoS), joint states out,
URDF on `robot_description` (transient local), joint commands in as ros2_control's
forward_position_controller (Float64MultiArray) or joint_trajectory_controller take them, gripper
commands as a gripper forward command controller does (topics: smrl_common.core.controller_topics,
remapped to match other controller names), and `sim/reset_episode` for episodes and tasks. Beyond
what a real driver offers: `sim/task_status` (smrl_msgs/TaskStatus), the episode's ground truth
(contact, distances, success) for evaluation and episode runners, never for policies.

The physics loop runs in a thread of its own, paced to wall time, rather than in an executor
timer: executor round trips cost about as much as rendering a 64 px frame, and a sim's clock should
not depend on callback latency. Callbacks and the loop share the PyBullet world under one lock.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, Header, String
from trajectory_msgs.msg import JointTrajectory

from smrl_common.image_messages import rgb_to_image_msg
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_msgs.msg import TaskStatus
from smrl_msgs.srv import ResetEpisode
from smrl_common.core.controller_topics import ARM_COMMANDS, ARM_TRAJECTORY, GRIPPER_COMMANDS
from smrl_common.core.joint_command_guard import CommandRejected, JointCommandGuard
from smrl_sim.core.robot import urdf_with_absolute_meshes
from smrl_sim.core.scene import SimWorld, load_scene_config
from smrl_sim.core.tasks import TASKS, make_task
from smrl_sim.core.trajectory import TrajectoryFollower
from smrl_sim.static_frames import publish_static_frames

PARAMETERS = {
    "scene": ("default", "Shipped scene name (config/scenes) or path to a scene YAML file."),
    "image_width": (0, "Camera width in px (16-1024, and at most max_image_bytes an image); 0 keeps the scene's."),
    "image_height": (0, "Camera height in px (16-1024, and at most max_image_bytes an image); 0 keeps the scene's."),
    "max_image_bytes": (520_000, "Largest camera image (width x height x 3 bytes) the node starts with. Fast DDS's "
                                 "default shared-memory segment is 512 KiB: larger best-effort images go as UDP "
                                 "fragments and were lost between processes (416x416 px: 20/20 arrived, 420x420: "
                                 "16/20, 512x512: 14/20). Raise it only with a Fast DDS profile that carries them."),
    "distractor_arm": (False, "Add a look-alike arm that moves on its own (self-model trap)."),
    "physics_rate_hz": (240.0, "Physics steps per second of wall time; the scene's time step is sim time."),
    "camera_rate_hz": (30.0, "Camera images per second of sim time (at most physics_rate_hz)."),
    "joint_state_rate_hz": (100.0, "JointState messages per second of sim time (at most physics_rate_hz)."),
    "task_status_rate_hz": (10.0, "sim/task_status messages per second of sim time (the policies' control rate: "
                                  "the gym env checks success as often)."),
    "task": ("touch", "Task of the first episode: touch or pick."),
    "seed": (0, "Seed of the first episode's object pose."),
    "max_trajectory_points": (2000, "Longer joint trajectories are rejected, counted: checking a point costs ~10 us, "
                                    "and a 20 000-point one stalled joint_states for ~0.2-0.4 s."),
    "publish_robot_description": (True, "Publish the URDF on robot_description; off where robot_state_publisher does."),
    "world_frame": ("world", "Fixed frame (REP 105) the robot and camera are placed in."),
    "camera_frame": ("camera_optical_frame", "Optical frame (z forward, x right, y down) of image headers."),
}


class SimNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("sim", **node_options)
        p = declare_parameters(self, PARAMETERS)
        self.p = p
        overrides: dict = {"distractor_arm": p["distractor_arm"]}
        if p["image_width"] or p["image_height"]:
            overrides["camera"] = {k: v for k, v in (("width", p["image_width"]), ("height", p["image_height"])) if v}
        scene = load_scene_config(p["scene"], **overrides)
        image_bytes = scene.camera.width * scene.camera.height * 3
        if image_bytes > p["max_image_bytes"]:
            largest_square_px = int((p["max_image_bytes"] / 3) ** 0.5)
            raise ValueError(
                f"camera {scene.camera.width}x{scene.camera.height} px is {image_bytes} bytes an image, more than "
                f"max_image_bytes ({p['max_image_bytes']}): with Fast DDS's defaults such best-effort images do not "
                f"reliably reach other processes. Sizes up to {largest_square_px}x{largest_square_px} px (or any "
                f"width x height x 3 <= {p['max_image_bytes']}) work.")
        self.world = SimWorld(scene)
        self.task = make_task(p["task"])
        self.seed = int(p["seed"])
        self.world.reset(np.random.default_rng(self.seed))
        robot = self.world.robot
        self.arm_guard = JointCommandGuard(robot.arm_limits)
        self.gripper_guard = JointCommandGuard(robot.gripper_limits)
        self.trajectory = TrajectoryFollower(self.arm_guard, p["max_trajectory_points"])
        self.joint_names = list(robot.config.joint_names + robot.config.gripper_joint_names)
        self.physics_dt_s = self.world.config.time_step_s
        self.camera_period_s = 1.0 / min(p["camera_rate_hz"], p["physics_rate_hz"])
        self.joint_state_period_s = 1.0 / min(p["joint_state_rate_hz"], p["physics_rate_hz"])
        self.task_status_period_s = 1.0 / min(p["task_status_rate_hz"], p["physics_rate_hz"])
        self._next_camera_s = self._next_joint_state_s = self._next_task_status_s = 0.0
        self.episode, self.episode_started_s = 0, self.world.sim_time_s
        self.images_published = 0

        self.image_pub = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self.task_status_pub = self.create_publisher(TaskStatus, "sim/task_status", 10)
        if p["publish_robot_description"]:
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
            self.description_pub = self.create_publisher(String, "robot_description", latched)
            self.description_pub.publish(String(data=urdf_with_absolute_meshes(robot.config)))
        self.create_subscription(Float64MultiArray, ARM_COMMANDS, self.on_arm_command, 10)
        self.create_subscription(Float64MultiArray, GRIPPER_COMMANDS, self.on_gripper_command, 10)
        self.create_subscription(JointTrajectory, ARM_TRAJECTORY, self.on_trajectory, 10)
        self.create_service(ResetEpisode, "sim/reset_episode", self.on_reset_episode)
        self.camera_info = self._camera_info()
        self.static_frames = publish_static_frames(self, self.world, p["world_frame"], p["camera_frame"])
        self.create_timer(10.0, self.report_rejections)
        self.world_lock = threading.Lock()
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self.run_physics_loop, name="physics", daemon=True)
        self._loop.start()
        cam = self.world.config.camera
        self.get_logger().info(
            f"{robot.config.name} arm, task {self.task.name}, camera {cam.width}x{cam.height} px at "
            f"{1 / self.camera_period_s:.0f} Hz, physics {p['physics_rate_hz']:.0f} Hz"
        )

    # --- simulation loop ------------------------------------------------------------------
    def run_physics_loop(self) -> None:
        """Step at physics_rate_hz of wall time; if the machine cannot keep up, run as fast as it can."""
        period_s = 1.0 / self.p["physics_rate_hz"]
        next_tick = time.perf_counter()
        try:
            while not self._stop.is_set():
                with self.world_lock:
                    self.physics_tick()
                next_tick += period_s
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -0.25:  # far behind: drop the backlog instead of racing to catch up
                    next_tick = time.perf_counter()
        except Exception as error:  # noqa: BLE001 - reported below, or a normal shutdown
            if self.context.ok() and not self._stop.is_set():
                self.get_logger().error(f"physics loop stopped: {error!r}")
                raise

    def physics_tick(self) -> None:
        targets = self.trajectory.targets(self.world.sim_time_s)
        if targets is not None:
            self.world.robot.set_targets(targets)
        self.world.step()
        now_s = self.world.sim_time_s
        stamp = self.get_clock().now().to_msg()
        # The camera first: a chain of nodes waits on each image (keypoints, self model, policy);
        # the joint state of the same stamp still reaches them long before the image's keypoints.
        if now_s + 1e-9 >= self._next_camera_s:
            self._next_camera_s = max(self._next_camera_s + self.camera_period_s, now_s)
            self.publish_camera(stamp)
        if now_s + 1e-9 >= self._next_joint_state_s:
            self._next_joint_state_s = max(self._next_joint_state_s + self.joint_state_period_s, now_s)
            self.publish_joint_state(stamp)
        if now_s + 1e-9 >= self._next_task_status_s:
            self._next_task_status_s = max(self._next_task_status_s + self.task_status_period_s, now_s)
            self.publish_task_status(stamp)

    def publish_camera(self, stamp: Time) -> None:
        rgb, _ = self.world.render()
        header = Header(stamp=stamp, frame_id=self.p["camera_frame"])
        self.image_pub.publish(rgb_to_image_msg(rgb, header))
        self.camera_info.header = header
        self.info_pub.publish(self.camera_info)
        self.images_published += 1

    def publish_joint_state(self, stamp: Time) -> None:
        arm_q, arm_v = self.world.robot.arm_state()
        grip_q, grip_v = self.world.robot.gripper_state()
        self.joint_pub.publish(JointState(
            header=Header(stamp=stamp, frame_id=""), name=self.joint_names,
            position=np.concatenate([arm_q, grip_q]).tolist(), velocity=np.concatenate([arm_v, grip_v]).tolist(),
        ))

    def publish_task_status(self, stamp: Time) -> None:
        status = self.task.status(self.world)
        self.task_status_pub.publish(TaskStatus(
            header=Header(stamp=stamp, frame_id=""), task=self.task.name, seed=self.seed, episode=self.episode,
            elapsed_s=self.world.sim_time_s - self.episode_started_s, success=status.is_success,
            in_contact=status.in_contact, distance_m=status.distance_m, lift_m=status.lift_m))

    def _camera_info(self) -> CameraInfo:
        camera = self.world.camera
        k = camera.intrinsics
        projection = np.hstack([k, np.zeros((3, 1))])
        return CameraInfo(
            height=camera.config.height, width=camera.config.width, distortion_model="plumb_bob",
            d=[0.0] * 5, k=k.reshape(-1).tolist(), r=np.eye(3).reshape(-1).tolist(), p=projection.reshape(-1).tolist(),
        )

    # --- commands -------------------------------------------------------------------------
    def on_arm_command(self, msg: Float64MultiArray) -> None:
        try:
            targets = self.arm_guard.positions(msg.data)
        except CommandRejected as error:
            self.get_logger().warning(f"rejected arm command: {error}", throttle_duration_sec=1.0)
            return
        with self.world_lock:
            self.trajectory.cancel()  # the newest command source wins
            self.world.robot.set_targets(targets)

    def on_gripper_command(self, msg: Float64MultiArray) -> None:
        try:
            targets = self.gripper_guard.positions(msg.data)
        except CommandRejected as error:
            self.get_logger().warning(f"rejected gripper command: {error}", throttle_duration_sec=1.0)
            return
        with self.world_lock:
            self.world.robot.set_targets(gripper_targets=targets)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        """Checked outside the world lock, so that the physics loop never waits on a long trajectory."""
        times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]
        try:
            trajectory = self.trajectory.plan(msg.joint_names, times, [p.positions for p in msg.points])
        except CommandRejected as error:
            self.get_logger().warning(f"rejected trajectory: {error}", throttle_duration_sec=1.0)
            return
        with self.world_lock:
            current, _ = self.world.robot.arm_state()
            self.trajectory.start(trajectory, self.world.sim_time_s, current)

    def on_reset_episode(self, request: ResetEpisode.Request, response: ResetEpisode.Response) -> ResetEpisode.Response:
        if request.task and request.task not in TASKS:
            response.success = False
            response.message = f"unknown task {request.task!r}; known: {sorted(TASKS)}"
            response.task, response.seed = self.task.name, self.seed
            return response
        if request.task:
            self.task = make_task(request.task)
        self.seed = int(request.seed) if request.seed >= 0 else int(np.random.default_rng().integers(2**31))
        with self.world_lock:
            self.trajectory.cancel()
            self.world.reset(np.random.default_rng(self.seed))
            self.episode, self.episode_started_s = self.episode + 1, self.world.sim_time_s
            self._next_task_status_s = self.world.sim_time_s  # the new episode's status at once
        response.success, response.task, response.seed, response.episode = True, self.task.name, self.seed, self.episode
        response.message = f"episode {self.episode}: task {self.task.name}, seed {self.seed}"
        self.get_logger().info(response.message)
        return response

    def report_rejections(self) -> None:
        for name, guard in (("arm", self.arm_guard), ("gripper", self.gripper_guard)):
            if guard.rejections:
                self.get_logger().info(f"{name} commands: {guard.accepted} accepted, rejected {dict(guard.rejections)}")

    def destroy_node(self) -> None:
        self.report_rejections()  # the final counts, for whoever reads the log after the run
        self._stop.set()
        self._loop.join(timeout=5.0)
        with self.world_lock:
            self.world.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SimNode, args)


if __name__ == "__main__":
    main()
