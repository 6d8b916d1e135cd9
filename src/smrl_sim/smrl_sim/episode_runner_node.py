"""The episode runner node: seeded touch or pick episodes on the sim node, judged by its ground truth.

Whatever commands the arm (the policy node) runs on; this node only resets episodes through
`sim/reset_episode` (seed `first_seed + i`, as the gym evaluation seeds episode i) and judges them
from `sim/task_status` (smrl_sim.core.episode_runner: success, or `episode_timeout_s` of sim time).
It starts once the first `self_model/state` has come (the policy's input), so the graph's start-up
is not timed. The status that ends each episode is republished on `sim/episode_results`
(reliable, transient local: a late subscriber gets them all) and logged; after the last episode,
a summary line. A real arm has no reset service and no ground truth: this node is for the sim.
"""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from rclpy.task import Future

from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_msgs.msg import SelfModelState, TaskStatus
from smrl_msgs.srv import ResetEpisode
from smrl_sim.core.episode_runner import EpisodeRunner

PARAMETERS = {
    "episodes": (10, "Episodes to run."),
    "first_seed": (10_000, "Seed of the first episode; episode i is reset with first_seed + i."),
    "episode_timeout_s": (5.0, "An episode without success ends after this much sim time: 5 s is the gym "
                               "evaluation's 50 steps of 0.1 s."),
    "task": ("touch", "Task of the episodes: touch or pick."),
    "wait_for_self_model_state": (True, "Start the first episode only once self_model/state has come."),
}
RESULTS_KEPT = 1000


class EpisodeRunnerNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("episode_runner", **node_options)
        p = declare_parameters(self, PARAMETERS)
        self.p = p
        self.runner = EpisodeRunner(p["episodes"], p["first_seed"], p["episode_timeout_s"])
        self.started = not p["wait_for_self_model_state"]
        self.reset_client = self.create_client(ResetEpisode, "sim/reset_episode")
        results_qos = QoSProfile(depth=RESULTS_KEPT, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.results_pub = self.create_publisher(TaskStatus, "sim/episode_results", results_qos)
        self.create_subscription(TaskStatus, "sim/task_status", self.on_task_status, 10)
        if not self.started:
            self.state_sub = self.create_subscription(SelfModelState, "self_model/state", self.on_self_model_state,
                                                      qos_profile_sensor_data)
        self.create_timer(0.1, self.request_reset)
        self.get_logger().info(f"{p['episodes']} {p['task']} episodes from seed {p['first_seed']}, at most "
                               f"{p['episode_timeout_s']:g} s each" + ("" if self.started else
                                                                       ", once self_model/state comes"))

    def on_self_model_state(self, _msg: SelfModelState) -> None:
        if not self.started:
            self.started = True
            self.get_logger().info("self_model/state came: starting the episodes")

    def request_reset(self) -> None:
        if not self.started or not self.reset_client.service_is_ready():
            return
        seed = self.runner.reset_to_request()
        if seed is not None:
            future = self.reset_client.call_async(ResetEpisode.Request(task=self.p["task"], seed=seed))
            future.add_done_callback(self.on_reset_reply)

    def on_reset_reply(self, future: Future) -> None:
        reply = future.result()
        succeeded = reply is not None and reply.success
        if not succeeded:
            self.get_logger().error(f"reset refused: {reply.message if reply else future.exception()!r}; asking again")
        self.runner.reset_replied(succeeded, reply.episode if succeeded else 0)

    def on_task_status(self, msg: TaskStatus) -> None:
        result = self.runner.status(msg.episode, msg.elapsed_s, msg.success, msg.distance_m)
        if result is None:
            return
        self.results_pub.publish(msg)
        outcome = f"succeeded after {result.elapsed_s:.1f} s" if result.success else f"failed ({result.elapsed_s:.1f} s)"
        self.get_logger().info(f"episode {result.index + 1}/{self.runner.episodes} (seed {result.seed}) {outcome}; "
                               f"closest {result.min_distance_m:.3f} m; {self.runner.successes} successes so far")
        if self.runner.done:
            times = [r.elapsed_s for r in self.runner.results if r.success]
            median = f"{np.median(times):.1f} s" if times else "-"
            self.get_logger().info(f"{self.p['task']}: {self.runner.successes}/{self.runner.episodes} episodes "
                                   f"succeeded (seeds {self.p['first_seed']}-{self.p['first_seed'] + self.runner.episodes - 1}); "
                                   f"median time to success {median}")


def main(args: list[str] | None = None) -> None:
    run_node(EpisodeRunnerNode, args)


if __name__ == "__main__":
    main()
