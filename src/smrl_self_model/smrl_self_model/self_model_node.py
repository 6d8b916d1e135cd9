"""The self model node: keypoints and joint states in; which keypoints are the agent, and where its
body schema expects them, out.

Contract (docs/architecture.md): `keypoints` (smrl_msgs/KeypointArray, sensor-data QoS) and
`joint_states` in; `self_model/state` (smrl_msgs/SelfModelState, the keypoints' header,
sensor-data QoS) out for every keypoint frame with a joint state within
`max_joint_state_offset_s` of its stamp; `self_model/markers` (keypoints on their camera rays
coloured self / world / unknown, the body schema's predictions, and lines from prediction to
observation) only while someone subscribes and `camera/camera_info` has come.

The body schema file decides the inputs: its joint names (picked out of joint_states by name) and
its keypoint count. A keypoint frame waits (in `sync`) until a joint state stamped at or after it
has come, then takes the nearest (core/joint_states.py). The contingency labeller learns online
from the start (labels stay unknown until `min_evidence_samples`), or from the samples of a self
model learned before (`self_evidence`, as a policy was trained with), on which it labels alone
unless `keep_learning`, as the policy saw its frozen self model in training. Learning, it takes
samples per message and recomputes labels in a thread of its own, started and adopted on a timer.
Unusable messages are dropped with a throttled warning and counted per reason in `dropped`.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from geometry_msgs.msg import Point
from matplotlib.colors import to_rgb
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, JointState
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from smrl_common.core.pixel_coordinates import normalised_to_pixels
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_msgs.msg import Keypoint, KeypointArray, SelfModelState
from smrl_perception.core.camera_rays import checked_intrinsics, points_on_camera_rays
from smrl_self_model.core.body_schema import BodySchema, load_shipped_body_schema
from smrl_self_model.core.contingency import LABEL_SELF, ContingencyConfig, ContingencyLabeller
from smrl_self_model.core.evaluation import LABEL_STYLES
from smrl_self_model.core.joint_states import (
    JUMP_CONFIRMATIONS,
    FrameSync,
    JointStateMatch,
    MalformedJointState,
    Pairing,
    RejectedStamp,
    arm_joint_positions,
)
from smrl_self_model.core.model_file import ModelFileError

LABELLER = ContingencyConfig()
PARAMETERS = {
    "body_schema": ("", "Body schema file (.pt from evaluate-self-model); empty: the one shipped in the package."),
    "max_joint_state_offset_s": (0.05, "Largest |keypoint stamp - joint state stamp| (s) at which a joint state "
                                       "is paired with a keypoint frame; frames without one are dropped, counted."),
    "max_joint_state_wait_s": (0.5, "How far (s, by stamp) the keypoints may move on while a frame waits for a "
                                    "joint state stamped at or after it; then it is dropped as stale, counted."),
    "max_stamp_jump_s": (2.0, "Largest distance (s) of a message's stamp from the newest stamp taken (joint_states "
                              f"or keypoints); further ones are dropped, counted, unless {JUMP_CONFIRMATIONS} in a "
                              "row agree: then the clock jumped and the pairing starts over there."),
    "self_evidence": ("", "Labeller samples saved earlier (smrl_self_model's ContingencyLabeller.save_evidence, "
                          "e.g. the self model a policy was trained with): the labeller starts from them "
                          "(and learns on with keep_learning); empty: it starts knowing nothing and learns."),
    "keep_learning": (False, "With self_evidence: take new labeller samples too. false: label on the evidence alone, "
                             "as the policy trained on it saw its self model; a policy's reaching is no evidence of "
                             "self (learning on from it, the active-inference evaluation's labeller called the "
                             "object's keypoint self within 15 episodes). Without self_evidence it always learns."),
    "min_joint_step_rad": (LABELLER.min_joint_step_rad, "Joint motion (L2, rad) between two labeller samples."),
    "min_evidence_samples": (LABELLER.min_evidence_samples, "Labeller samples before a keypoint leaves 'unknown'."),
    "window_samples": (LABELLER.window_samples, "Labeller samples kept: the evidence labels rest on."),
    "self_threshold": (LABELLER.self_threshold, "Labeller score (held-out explained motion) from which a keypoint "
                                                "is self; tuned for the shipped keypoint model."),
    "frame_self_radius": (LABELLER.frame_self_radius, "Per-frame labels: distance (normalised image units) from "
                                                      "where the position model puts a keypoint within which it is "
                                                      "self in that frame."),
    "frame_min_score": (LABELLER.frame_min_score, "Per-frame labels: labeller score from which a keypoint can be "
                                                  "self in a frame."),
    "position_places": (LABELLER.position_places, "Per-frame labels: places on the body a keypoint's position "
                                                  "model may fit (a keypoint can jump between two links); 1: one."),
    "label_refresh_period_s": (0.5, "Period (s) of checking the labeller: a finished background refresh is adopted, "
                                    "and a new one starts once 2 % of the samples are new (0.1-0.2 s CPU each)."),
    "marker_depth_m": (1.5, "Depth along the optical axis (m) of the marker spheres on their camera rays."),
    "num_threads": (1, "CPU threads torch may use (labeller solves, body schema)."),
}
#: Joint states kept for pairing (100 Hz x 7 joints: ~40 KB). Frames are paired by stamp, so a keypoint
#: frame the loaded machine held up for seconds is still paired right.
JOINT_STATE_HISTORY_S = 5.0
SPHERE_DIAMETER_M = 0.05
PREDICTED_DIAMETER_M = 0.03
LINE_WIDTH_M = 0.006
PREDICTED_COLOUR = ColorRGBA(r=1.0, g=1.0, b=1.0, a=0.9)


def stamp_s(header: Header) -> float:
    """The stamp in seconds; negative ones too (rclpy's Time refuses them), for the sync to drop."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9


class SelfModelNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("self_model", **node_options)
        self.started = False  # first: destroy_node reports the counts of a node that got going only
        p = declare_parameters(self, PARAMETERS)
        if min(p["max_joint_state_offset_s"], p["max_joint_state_wait_s"], p["max_stamp_jump_s"],
               p["label_refresh_period_s"]) <= 0 or min(p["num_threads"], p["position_places"]) < 1:
            raise ValueError("need max_joint_state_offset_s, max_joint_state_wait_s, max_stamp_jump_s, "
                             "label_refresh_period_s > 0 and num_threads, position_places >= 1")
        self.p = p
        torch.set_num_threads(p["num_threads"])
        # ModelFileError names the file and the reason; main() turns it into a clear exit.
        self.schema: BodySchema = BodySchema.load(p["body_schema"]) if p["body_schema"] else load_shipped_body_schema()
        labeller_config = ContingencyConfig(
            min_joint_step_rad=p["min_joint_step_rad"], min_evidence_samples=p["min_evidence_samples"],
            window_samples=p["window_samples"], self_threshold=p["self_threshold"],
            frame_self_radius=p["frame_self_radius"], frame_min_score=p["frame_min_score"],
            position_places=p["position_places"])
        self.learning = p["keep_learning"] or not p["self_evidence"]
        # background: a refresh (0.1-0.7 s with a full window) must not hold up the keypoint frames
        if p["self_evidence"]:
            self.labeller = self.load_evidence(p["self_evidence"], labeller_config)
        else:
            self.labeller = ContingencyLabeller(self.schema.num_keypoints, self.schema.num_joints, labeller_config,
                                                background=True)
        self.sync: FrameSync[tuple[KeypointArray, np.ndarray, np.ndarray]] = FrameSync(
            p["max_joint_state_offset_s"], p["max_joint_state_wait_s"], JOINT_STATE_HISTORY_S, p["max_stamp_jump_s"])
        self.intrinsics: np.ndarray | None = None
        self.label_colours = {label: ColorRGBA(r=r, g=g, b=b, a=1.0)
                              for label, style in LABEL_STYLES.items() for r, g, b in [to_rgb(style["color"])]}
        self.dropped: Counter = Counter()    # reason -> messages dropped
        self.published: Counter = Counter()  # topic -> messages published
        self.refresh_failures = 0

        self.state_pub = self.create_publisher(SelfModelState, "self_model/state", qos_profile_sensor_data)
        self.marker_pub = self.create_publisher(MarkerArray, "self_model/markers", 10)
        self.create_subscription(JointState, "joint_states", self.on_joint_state, 50)
        self.create_subscription(KeypointArray, "keypoints", self.on_keypoints, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, "camera/camera_info", self.on_camera_info, qos_profile_sensor_data)
        self.create_timer(p["label_refresh_period_s"], self.refresh_labels)
        self.create_timer(10.0, self.report_statistics)
        self.get_logger().info(
            f"body schema {p['body_schema'] or 'shipped with smrl_self_model'}: {self.schema.num_keypoints} keypoints "
            f"(predicts {self.schema.self_keypoint_indices}), joints {self.schema.joint_names}; labeller "
            f"{'learning' if self.learning else 'labelling on its self evidence alone'}")
        self.started = True

    def load_evidence(self, path: str, config: ContingencyConfig) -> ContingencyLabeller:
        """The labeller of an evidence file, which must fit the body schema (keypoints, joints, keypoint model)."""
        labeller, metadata = ContingencyLabeller.from_evidence(path, config, background=True)
        fits = (labeller.num_keypoints, labeller.num_joints) == (self.schema.num_keypoints, self.schema.num_joints)
        evidence_sha, schema_sha = metadata.get("keypoint_model_sha256"), self.schema.keypoint_model_sha256
        if not fits or (evidence_sha and schema_sha and evidence_sha != schema_sha):
            raise ModelFileError(path, f"{labeller.num_keypoints} keypoints, {labeller.num_joints} joints of keypoint "
                                       f"model {str(evidence_sha)[:12]}; the body schema has {self.schema.num_keypoints}, "
                                       f"{self.schema.num_joints} of {schema_sha[:12]}")
        self.get_logger().info(f"self evidence {path}: {labeller.num_samples} samples ({metadata.get('source')}), "
                               f"labels {labeller.labels.tolist()}")
        return labeller

    # --- callbacks ----------------------------------------------------------------------------
    def refresh_labels(self) -> None:
        """The labeller's refresh; one that fails keeps the labels it had, logged and counted."""
        try:
            self.labeller.refresh()
        except Exception as error:  # noqa: BLE001 - the node labels on with the labels it has
            self.refresh_failures += 1
            self.get_logger().error(f"labeller refresh failed, labels kept ({self.refresh_failures} so far): "
                                    f"{error!r}", throttle_duration_sec=5.0)

    def on_joint_state(self, msg: JointState) -> None:
        try:
            positions = arm_joint_positions(msg.name, msg.position, self.schema.joint_names)
            pairings = self.sync.add_joint_state(stamp_s(msg.header), positions)
        except (MalformedJointState, RejectedStamp) as error:
            return self.drop(f"joint_states: {error.reason}", str(error))
        self.use_pairings(pairings)

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = checked_intrinsics(msg.k)
        except ValueError as error:
            self.drop("camera_info: unusable", str(error))

    def on_keypoints(self, msg: KeypointArray) -> None:
        if len(msg.keypoints) != self.schema.num_keypoints:
            return self.drop("keypoints: count differs from the body schema's",
                             f"{len(msg.keypoints)} keypoints, the body schema's model has {self.schema.num_keypoints}")
        centers = np.array([(k.x_norm, k.y_norm) for k in msg.keypoints], dtype=np.float64)
        intensities = np.array([k.intensity for k in msg.keypoints], dtype=np.float64)
        if not (np.isfinite(centers).all() and np.isfinite(intensities).all()):
            return self.drop("keypoints: non-finite", "NaN or inf in the keypoints")
        try:
            pairings = self.sync.add_frame(stamp_s(msg.header), (msg, centers, intensities))
        except RejectedStamp as error:
            return self.drop(f"keypoints: {error.reason}", str(error))
        self.use_pairings(pairings)

    def use_pairings(self, pairings: list[Pairing]) -> None:
        """Use the keypoint frames whose joint state is settled; count those without one."""
        for pairing in pairings:
            if pairing.unpaired is not None:
                self.drop(f"keypoints: {pairing.unpaired.reason}", str(pairing.unpaired))
            else:
                self.use_frame(*pairing.frame, pairing.joint_state)

    def use_frame(self, msg: KeypointArray, centers: np.ndarray, intensities: np.ndarray,
                  match: JointStateMatch) -> None:
        if self.learning:
            self.labeller.update(centers, intensities, match.positions_rad)
        image_size_px = (msg.image_width, msg.image_height)
        predicted = self.schema.predict(match.positions_rad)  # (K_self, 2)
        errors_px = self.schema.prediction_errors_px(match.positions_rad, centers, image_size_px, predicted)
        labels = self.labeller.labels
        frame_labels = self.labeller.frame_labels(centers, match.positions_rad)
        self.state_pub.publish(self.state_message(msg, labels, frame_labels, predicted, float(errors_px.mean()), match))
        self.published["self_model/state"] += 1
        if self.marker_pub.get_subscription_count() and self.intrinsics is not None:
            self.marker_pub.publish(self.marker_message(msg, frame_labels, predicted))
            self.published["self_model/markers"] += 1

    # --- messages -----------------------------------------------------------------------------
    def state_message(self, msg: KeypointArray, labels: np.ndarray, frame_labels: np.ndarray, predicted: np.ndarray,
                      error_px: float, match: JointStateMatch) -> SelfModelState:
        predicted_keypoints = [Keypoint() for _ in msg.keypoints]  # intensity 0: not predicted
        pixels = normalised_to_pixels(predicted, msg.image_width, msg.image_height)
        for index, (x, y), (u, v) in zip(self.schema.self_keypoint_indices, predicted, pixels):
            predicted_keypoints[index] = Keypoint(u_px=float(u), v_px=float(v), x_norm=float(x), y_norm=float(y),
                                                  intensity=1.0)
        return SelfModelState(
            header=msg.header, keypoints=msg.keypoints, labels=labels.tolist(),
            self_scores=self.labeller.scores.astype(np.float32).tolist(), frame_labels=frame_labels.tolist(),
            predicted_keypoints=predicted_keypoints,
            prediction_error_px=error_px, joint_positions=match.positions_rad.tolist(), joint_state_age_s=match.age_s)

    def marker_message(self, msg: KeypointArray, labels: np.ndarray, predicted: np.ndarray) -> MarkerArray:
        """Observed keypoints coloured by their label in this frame, predicted ones in white, and a
        line between each pair."""
        depth_m = self.p["marker_depth_m"]
        observed_px = np.array([(k.u_px, k.v_px) for k in msg.keypoints])
        predicted_px = normalised_to_pixels(predicted, msg.image_width, msg.image_height)
        observed = [Point(x=x, y=y, z=z) for x, y, z in
                    points_on_camera_rays(observed_px, self.intrinsics, depth_m).tolist()]
        expected = [Point(x=x, y=y, z=z) for x, y, z in
                    points_on_camera_rays(predicted_px, self.intrinsics, depth_m).tolist()]
        keypoints = Marker(header=msg.header, ns="self_model_keypoints", id=0, type=Marker.SPHERE_LIST,
                           action=Marker.ADD, points=observed, colors=[self.label_colours[int(l)] for l in labels])
        keypoints.scale.x = keypoints.scale.y = keypoints.scale.z = SPHERE_DIAMETER_M
        schema = Marker(header=msg.header, ns="self_model_predicted", id=0, type=Marker.SPHERE_LIST,
                        action=Marker.ADD, points=expected, color=PREDICTED_COLOUR)
        schema.scale.x = schema.scale.y = schema.scale.z = PREDICTED_DIAMETER_M
        surprise = Marker(header=msg.header, ns="self_model_surprise", id=0, type=Marker.LINE_LIST,
                          action=Marker.ADD, color=PREDICTED_COLOUR)
        surprise.points = [p for index, point in zip(self.schema.self_keypoint_indices, expected)
                           for p in (point, observed[index])]
        surprise.scale.x = LINE_WIDTH_M
        for marker in (keypoints, schema, surprise):
            marker.pose.orientation.w = 1.0
        return MarkerArray(markers=[keypoints, schema, surprise])

    # --- bookkeeping --------------------------------------------------------------------------
    def drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.get_logger().warning(f"dropped: {reason}: {detail} (dropped so far: {dict(self.dropped)})",
                                  throttle_duration_sec=5.0)

    def report_statistics(self) -> None:
        labels = self.labeller.labels
        self.get_logger().info(
            f"published {dict(self.published)}, dropped {dict(self.dropped)}, refresh failures "
            f"{self.refresh_failures}; labeller samples "
            f"{self.labeller.num_samples}, self keypoints {np.flatnonzero(labels == LABEL_SELF).tolist()}")

    def destroy_node(self) -> None:
        if self.started:
            self.report_statistics()  # the final counts, for whoever reads the log after the run
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SelfModelNode, args, model_errors=(ModelFileError,), model_name="the body schema or self evidence")


if __name__ == "__main__":
    main()
