"""Collect episodes of motor babbling in the sim into an episode dataset (see episode_dataset).

    python -m smrl_sim.core.collect --out outputs/datasets/default --episodes 40
    python -m smrl_sim.core.collect --out outputs/datasets/distractor --distractor-arm
    python -m smrl_sim.core.collect --out outputs/datasets/push --push-object
    python -m smrl_sim.core.collect --out outputs/datasets/moved --relocate-object-every-s 0.3 0.8
    python -m smrl_sim.core.collect --out outputs/datasets/carry --carry-object
    python -m smrl_sim.core.collect --out outputs/datasets/expert_touch --policy POLICY_FILE

`--policy` drives the arm with a trained privileged policy (an "expert", smrl_policy's TD3/DDPG)
instead of babbling; it needs smrl_policy installed (imported only then). The episodes have the
same arrays as babbling ones.

Each episode is simulated in a worker process (rendering is CPU-bound; two processes use both
cores) and saved with the simulator's ground truth for evaluation.
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from smrl_sim.core.episode_dataset import episode_path, write_episode, write_metadata
from smrl_sim.core.motor_babbling import CarryingBabbling, MotorBabbling, PushingBabbling, RestingArm
from smrl_sim.core.object_relocation import ObjectRelocation
from smrl_sim.core.scene import SimWorld, load_scene_config


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    out: Path
    episodes: int = 40
    frames: int = 60
    scene: str = "default"
    image_size: int | None = None      # px; None keeps the scene's camera size
    distractor_arm: bool = False
    push_object: bool = False
    carry_object: bool = False
    resting_arm: bool = False          # the arm holds one pose: only the world moves
    relocate_object_every_s: tuple[float, float] | None = None  # someone re-places the object (min, max s)
    policy: Path | None = None         # a privileged policy file drives the arm instead of babbling
    control_period_s: float = 0.1
    seed: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if self.push_object + self.carry_object + self.resting_arm > 1:
            raise ValueError("push_object, carry_object and resting_arm are kinds of babbling: choose one")
        if self.policy is not None and self.push_object + self.carry_object + self.resting_arm > 0:
            raise ValueError("--policy replaces babbling: do not combine it with a kind of babbling")

    def babbling_class(self) -> type[MotorBabbling]:
        if self.push_object:
            return PushingBabbling
        if self.carry_object:
            return CarryingBabbling
        return RestingArm if self.resting_arm else MotorBabbling

    def motion(self, world: SimWorld, rng: np.random.Generator):
        """What drives the arm: `next_targets()` once per frame (babbling, or the policy)."""
        if self.policy is not None:
            from smrl_policy.core.expert_motion import PolicyMotion  # optional: only for --policy
            return PolicyMotion(world, self.policy)
        return self.babbling_class()(world, rng, control_period_s=self.control_period_s)

    def scene_overrides(self) -> dict:
        overrides: dict = {"distractor_arm": self.distractor_arm}
        if self.image_size:
            overrides["camera"] = {"width": self.image_size, "height": self.image_size}
        return overrides


def collect_episode(config: CollectConfig, index: int) -> dict[str, float]:
    """Simulate and save episode `index`; returns a few statistics for the summary."""
    rng = np.random.default_rng([config.seed, index])
    world = SimWorld(load_scene_config(config.scene, **config.scene_overrides()))
    try:
        world.reset(rng)
        babbling = config.motion(world, rng)
        relocation = (ObjectRelocation(world, rng, config.control_period_s, config.relocate_object_every_s)
                      if config.relocate_object_every_s else None)
        substeps = max(1, round(config.control_period_s / world.config.time_step_s))
        camera, robot = world.camera, world.robot
        contacts = False
        frames: dict[str, list] = {k: [] for k in (
            "rgb", "joint_positions", "joint_targets", "time_s", "gt_segmentation", "gt_self_mask",
            "gt_object_mask", "gt_distractor_mask", "gt_ee_pixel", "gt_object_pixel", "gt_link_pixels", "gt_ee_position",
            "gt_object_position", "gt_object_in_hand")}
        for _ in range(config.frames):
            targets = babbling.next_targets()
            rgb, segmentation = world.render(segmentation=True)
            joints, _ = robot.arm_state()
            ee, _ = robot.end_effector_pose()
            obj = world.object_position()
            frames["rgb"].append(rgb)
            frames["joint_positions"].append(joints.astype(np.float32))
            frames["joint_targets"].append(targets.astype(np.float32))
            frames["time_s"].append(world.sim_time_s)
            frames["gt_segmentation"].append(segmentation)
            frames["gt_self_mask"].append(world.self_mask(segmentation))
            frames["gt_object_mask"].append(world.object_mask(segmentation))
            frames["gt_distractor_mask"].append(world.distractor_mask(segmentation))
            frames["gt_ee_pixel"].append(camera.project(ee)[0].astype(np.float32))
            frames["gt_object_pixel"].append(camera.project(obj)[0].astype(np.float32))
            frames["gt_link_pixels"].append(camera.project(robot.link_positions()).astype(np.float32))
            frames["gt_ee_position"].append(ee.astype(np.float32))
            frames["gt_object_position"].append(obj.astype(np.float32))
            frames["gt_object_in_hand"].append(world.object_in_hand())
            contacts = contacts or bool(world.contact_links())
            robot.set_targets(targets)
            if relocation is not None:
                relocation.step()
            world.step(substeps)
        arrays = {k: np.asarray(v) for k, v in frames.items()}
        write_episode(episode_path(config.out, index), arrays)
        moved = np.linalg.norm(arrays["gt_object_position"][-1, :2] - arrays["gt_object_position"][0, :2])
        return {"self_pixels": float(arrays["gt_self_mask"].mean()), "object_moved_m": float(moved),
                "object_in_hand": float(arrays["gt_object_in_hand"].mean()), "touched": contacts}
    finally:
        world.close()


def collect(config: CollectConfig) -> dict[str, float]:
    started = time.perf_counter()
    scene = load_scene_config(config.scene, **config.scene_overrides())
    write_metadata(config.out, {
        "robot": scene.robot,
        "scene": config.scene,
        "camera": dataclasses.asdict(scene.camera),
        "distractor_arm": config.distractor_arm,
        "push_object": config.push_object,
        "carry_object": config.carry_object,
        "resting_arm": config.resting_arm,
        "relocate_object_every_s": config.relocate_object_every_s,
        "policy": str(config.policy) if config.policy else None,
        "episodes": config.episodes,
        "frames_per_episode": config.frames,
        "control_period_s": config.control_period_s,
        "seed": config.seed,
    })
    stats = []
    # Workers come from a fork server, not a fork of this process: a caller that already runs
    # threads (torch, rclpy; the test suite) can leave a forked child holding a lock forever or
    # crashing in its first garbage collection (seen: a segfault in ElementTree, full test run).
    with ProcessPoolExecutor(max_workers=config.workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        futures = [pool.submit(collect_episode, config, i) for i in range(config.episodes)]
        for future in tqdm(futures, desc=f"collect {config.out.name}", unit="episode"):
            stats.append(future.result())
    wall_s = time.perf_counter() - started
    summary = {
        "episodes": config.episodes,
        "frames": config.episodes * config.frames,
        "wall_s": round(wall_s, 1),
        "frames_per_s": round(config.episodes * config.frames / wall_s, 1),
        "mean_self_pixel_fraction": round(float(np.mean([s["self_pixels"] for s in stats])), 3),
        "episodes_object_moved_over_2cm": int(sum(s["object_moved_m"] > 0.02 for s in stats)),
        "object_in_hand_fraction": round(float(np.mean([s["object_in_hand"] for s in stats])), 3),
        "episodes_touched": int(sum(s["touched"] for s in stats)),
    }
    print(f"collected {summary['episodes']} episodes ({summary['frames']} frames) into {config.out} "
          f"in {summary['wall_s']} s ({summary['frames_per_s']} frames/s); arm covers "
          f"{summary['mean_self_pixel_fraction']:.1%} of pixels; object pushed >2 cm in "
          f"{summary['episodes_object_moved_over_2cm']} episodes; object in hand in "
          f"{summary['object_in_hand_fraction']:.1%} of frames; the arm touched the object in "
          f"{summary['episodes_touched']} episodes")
    return summary


def parse_args(argv: list[str] | None = None) -> CollectConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CollectConfig(out=Path("."))
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--frames", type=int, default=defaults.frames, help="frames per episode")
    parser.add_argument("--scene", default=defaults.scene, help="shipped scene name or YAML path")
    parser.add_argument("--image-size", type=int, default=None, help="camera width=height in px")
    parser.add_argument("--distractor-arm", action="store_true", help="add a look-alike arm moving on its own")
    parser.add_argument("--push-object", action="store_true", help="babble with sweeps through the object")
    parser.add_argument("--carry-object", action="store_true", help="grasp the object and babble holding it")
    parser.add_argument("--resting-arm", action="store_true", help="no babbling: the arm holds one random pose")
    parser.add_argument("--relocate-object-every-s", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="re-place the object at random on the table every MIN-MAX s (uniform)")
    parser.add_argument("--policy", type=Path, default=None,
                        help="a privileged policy file (smrl_policy) drives the arm instead of babbling")
    parser.add_argument("--control-period-s", type=float, default=defaults.control_period_s)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    args = {k.replace("-", "_"): v for k, v in vars(parser.parse_args(argv)).items()}
    if args["policy"] is not None and not args["policy"].is_file():
        parser.error(f"--policy {args['policy']}: no such file")
    if args["relocate_object_every_s"]:
        args["relocate_object_every_s"] = tuple(args["relocate_object_every_s"])
    return CollectConfig(**args)


def main(argv: list[str] | None = None) -> None:
    collect(parse_args(argv))


if __name__ == "__main__":
    main()
