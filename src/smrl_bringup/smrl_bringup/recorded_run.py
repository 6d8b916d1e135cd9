"""A demo run as its bag recorded it: what the pictures and the summary are made of.

The recorder stamps each message with its receive time, so the bag alone gives the rates per
topic and the latency from a camera image's stamp to each stage's message about it (the image,
its keypoints, the self model state: all carry the image's header): receive time minus header
stamp, both on the wall clock of this machine.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message
from rclpy.time import Time

from smrl_bag.core.bag_playback import BagPlayback
from smrl_bag.message_types import message_class
from smrl_common.core.latency import latency_summary_ms
from smrl_common.image_messages import image_msg_to_rgb

IMAGE_TOPIC = "camera/image_raw"
STATE_TOPIC = "self_model/state"
JOINT_TOPIC = "joint_states"
EPISODE_RESULTS_TOPIC = "sim/episode_results"
POLICY_LATENCY_TOPIC = "policy/latency_ms"
KEYPOINT_TOPIC = "keypoints"
TOPICS = [IMAGE_TOPIC, JOINT_TOPIC, KEYPOINT_TOPIC, STATE_TOPIC, EPISODE_RESULTS_TOPIC, POLICY_LATENCY_TOPIC]
#: The stages of the camera -> command chain whose messages carry the image's header, in order.
STAGE_TOPICS = (IMAGE_TOPIC, KEYPOINT_TOPIC, STATE_TOPIC)


@dataclass
class StateSnapshot:
    """What the pictures and the summary need of one self model state."""
    stamp_ns: int                 # the camera image's
    centers: np.ndarray           # (K, 2) normalised
    labels: np.ndarray            # (K,) LABEL_*, per keypoint
    frame_labels: np.ndarray      # (K,) LABEL_*, in this frame
    self_scores: np.ndarray       # (K,)
    predicted: np.ndarray         # (K,) bool: the body schema predicts this keypoint
    prediction_error_px: float


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode as the episode runner judged it (the sim's task status that ended it)."""
    seed: int
    success: bool
    elapsed_s: float


@dataclass
class RecordedRun:
    frames: dict[int, np.ndarray] = field(default_factory=dict)  # image stamp (ns) -> rgb, every stride-th
    states: list[StateSnapshot] = field(default_factory=list)
    joint_positions: list[list[float]] = field(default_factory=list)
    received: Counter = field(default_factory=Counter)           # topic -> messages
    receive_span_s: dict[str, float] = field(default_factory=dict)  # topic -> first to last receive
    episodes: list[EpisodeOutcome] = field(default_factory=list)
    policy_latencies_ms: list[float] = field(default_factory=list)  # image stamp -> arm command
    stage_latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # STAGE_TOPICS: stamp -> received

    @classmethod
    def read(cls, bag: Path, kept_frames: int, since_ns: int = 0) -> "RecordedRun":
        """The run in `bag` from receive time `since_ns` on (wall clock; earlier messages, e.g. while
        the graph came up, are left out, but for episode results: every episode counts), keeping
        about `kept_frames` camera frames spread over it."""
        run = cls()
        stride = max(1, BagPlayback(bag, [IMAGE_TOPIC]).message_count // kept_frames)
        first_ns: dict[str, int] = {}
        for message in BagPlayback(bag, TOPICS).messages():
            topic = message.topic
            if message.log_time_ns < since_ns and topic != EPISODE_RESULTS_TOPIC:  # the runner starts on its own
                continue
            run.received[topic] += 1
            first_ns.setdefault(topic, message.log_time_ns)
            run.receive_span_s[topic] = (message.log_time_ns - first_ns[topic]) * 1e-9
            msg = deserialize_message(message.data, message_class(message.msgtype))
            if topic in STAGE_TOPICS:
                stamp_ns = Time.from_msg(msg.header.stamp).nanoseconds
                run.stage_latencies_ms.setdefault(topic, []).append((message.log_time_ns - stamp_ns) * 1e-6)
            if topic == KEYPOINT_TOPIC or (topic == IMAGE_TOPIC and (run.received[topic] - 1) % stride):
                continue
            if topic == EPISODE_RESULTS_TOPIC:
                run.episodes.append(EpisodeOutcome(msg.seed, msg.success, msg.elapsed_s))
            elif topic == POLICY_LATENCY_TOPIC:
                run.policy_latencies_ms.append(msg.data)
            elif topic == IMAGE_TOPIC:
                run.frames[stamp_ns] = image_msg_to_rgb(msg).copy()
            elif topic == JOINT_TOPIC:
                run.joint_positions.append(list(msg.position))
            else:
                run.states.append(StateSnapshot(
                    stamp_ns, np.array([(k.x_norm, k.y_norm) for k in msg.keypoints]),
                    np.array(msg.labels, dtype=np.uint8), np.array(msg.frame_labels, dtype=np.uint8),
                    np.array(msg.self_scores, dtype=float), np.array([k.intensity > 0 for k in msg.predicted_keypoints]),
                    msg.prediction_error_px))
        return run

    def rates_hz(self) -> dict[str, float]:
        return {topic: round((count - 1) / self.receive_span_s[topic], 1)
                for topic, count in self.received.items() if self.receive_span_s.get(topic)}

    def stage_latency_ms(self) -> dict[str, dict[str, float]]:
        """Per stage (STAGE_TOPICS, in order): image stamp -> its message received by the recorder,
        median, 90th percentile and max: where the camera -> command latency goes."""
        return {topic: latency_summary_ms(self.stage_latencies_ms[topic])
                for topic in STAGE_TOPICS if self.stage_latencies_ms.get(topic)}

    def policy_latency_ms(self) -> dict[str, float]:
        """Image stamp -> arm command published (the policy node's own measure), as `latency_ms`."""
        return latency_summary_ms(self.policy_latencies_ms)

    def states_with_frames(self) -> list[StateSnapshot]:
        return [state for state in self.states if state.stamp_ns in self.frames]
