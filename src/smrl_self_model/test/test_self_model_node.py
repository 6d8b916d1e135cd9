"""The self model node over real DDS: live labels in a graph with the sim and keypoint nodes; frames
without a joint state near them, and unusable joint states, dropped and counted; model file errors."""
import hashlib
import importlib.resources
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState

from smrl_msgs.msg import Keypoint, KeypointArray, SelfModelState
from smrl_self_model.core.body_schema import BodySchema, load_shipped_body_schema
from smrl_self_model.core.model_file import ModelFileError
from smrl_self_model.self_model_node import PARAMETERS, SelfModelNode, main

PACKAGE = Path(__file__).resolve().parents[1]


@pytest.mark.single_threaded_executor
def test_in_a_graph_with_sim_and_keypoint_nodes_labels_come_live(ros_context, executor, spin_until):
    """The real chain: sim -> keypoint node -> self model, the arm moved by the scripted motion node.

    The labeller's warm-up is shortened (20 samples, labels refreshed every 0.2 s) so labels leave
    "unknown" within seconds; with the defaults it takes ~150 samples, about 10 s of motion.
    """
    import rclpy

    from smrl_perception.keypoint_node import KeypointNode
    from smrl_sim.scripted_motion_node import ScriptedMotionNode
    from smrl_sim.sim_node import SimNode

    nodes = [
        SimNode(context=ros_context),
        KeypointNode(context=ros_context),
        ScriptedMotionNode(context=ros_context, parameter_overrides=[Parameter("period_s", value=3.0),
                                                                      Parameter("gripper_period_s", value=0.0)]),
        SelfModelNode(context=ros_context, parameter_overrides=[Parameter("min_evidence_samples", value=20),
                                                                Parameter("label_refresh_period_s", value=0.2)]),
    ]
    self_model = nodes[-1]
    probe = rclpy.create_node("probe", context=ros_context)
    states: list[SelfModelState] = []
    probe.create_subscription(SelfModelState, "self_model/state", states.append, qos_profile_sensor_data)
    for node in (*nodes, probe):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: states and any(states[-1].labels), 30.0), (
            len(states), self_model.dropped, self_model.labeller.num_samples)
    finally:
        for node in nodes:
            node.destroy_node()
    schema = load_shipped_body_schema()
    state = states[-1]
    num_keypoints = schema.num_keypoints
    assert len(state.keypoints) == len(state.labels) == len(state.self_scores) == num_keypoints
    assert len(state.frame_labels) == num_keypoints
    for labels in (state.labels, state.frame_labels):
        assert set(labels) <= {SelfModelState.LABEL_UNKNOWN, SelfModelState.LABEL_SELF, SelfModelState.LABEL_WORLD}
    # a keypoint unknown overall is unknown in every frame, and only those
    assert [l == SelfModelState.LABEL_UNKNOWN for l in state.frame_labels] == [
        l == SelfModelState.LABEL_UNKNOWN for l in state.labels]
    assert all(0.0 <= score <= 1.0 for score in state.self_scores)
    predicted = [i for i, k in enumerate(state.predicted_keypoints) if k.intensity > 0]
    assert predicted == sorted(schema.self_keypoint_indices) and len(state.predicted_keypoints) == num_keypoints
    assert math.isfinite(state.prediction_error_px) and state.prediction_error_px < 64
    assert len(state.joint_positions) == 7 and abs(state.joint_state_age_s) <= 0.05
    assert state.header.frame_id == "camera_optical_frame"


def keypoint_array(stamp_s: float, num_keypoints: int = 4) -> KeypointArray:
    keypoints = [Keypoint(x_norm=0.1 * i, y_norm=-0.1 * i, intensity=1.0) for i in range(num_keypoints)]
    msg = KeypointArray(image_width=64, image_height=64, keypoints=keypoints)
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), round(stamp_s % 1 * 1e9)
    return msg


def joint_state(stamp_s: float, names=("j1", "j2", "j3"), positions=(0.1, 0.2, 0.3)) -> JointState:
    msg = JointState(name=list(names), position=list(positions))
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), round(stamp_s % 1 * 1e9)
    return msg


@pytest.fixture
def fed_node(ros_context, executor, tmp_path):
    """A self model node with a small body schema (joints j1-j3, 4 keypoints), and a test node that
    feeds it hand-made messages and records what it publishes."""
    import rclpy

    schema_file = BodySchema(["j1", "j2", "j3"], 4, [0, 2], hidden_sizes=(8,)).save(tmp_path / "schema.pt")
    node = SelfModelNode(context=ros_context, parameter_overrides=[Parameter("body_schema", value=str(schema_file)),
                                                                   Parameter("max_joint_state_wait_s", value=0.05)])
    feeder = rclpy.create_node("feeder", context=ros_context)
    states: list[SelfModelState] = []
    feeder.create_subscription(SelfModelState, "self_model/state", states.append, qos_profile_sensor_data)
    keypoints = feeder.create_publisher(KeypointArray, "keypoints", qos_profile_sensor_data)
    joints = feeder.create_publisher(JointState, "joint_states", 10)
    executor.add_node(node)
    executor.add_node(feeder)
    yield node, keypoints, joints, states
    node.destroy_node()


def test_frames_without_a_joint_state_near_them_are_dropped_and_counted(fed_node, executor, spin_until):
    node, keypoints, joints, states = fed_node
    assert spin_until(executor, lambda: keypoints.get_subscription_count() and joints.get_subscription_count(), 5.0)

    def send(stamp_s, num_keypoints=4):
        """Publish a keypoint frame and spin until the node has taken it (queued, used or dropped)."""
        def taken():
            return node.sync.num_waiting + sum(node.dropped.values()) + node.published["self_model/state"]

        before = taken()
        keypoints.publish(keypoint_array(stamp_s, num_keypoints))
        assert spin_until(executor, lambda: taken() != before)

    send(100.00)
    send(100.06)  # the keypoints move on: the first frame has no joint state
    assert node.dropped == {"keypoints: no joint states": 1} and node.sync.num_waiting == 1
    for stamp_s in np.arange(100.0, 100.11, 0.01):
        joints.publish(joint_state(stamp_s))
    assert spin_until(executor, lambda: len(node.sync.joint_states) == 11 and len(states) == 1)  # 100.06 waited
    send(100.053)
    assert spin_until(executor, lambda: len(states) == 2)
    assert [state.joint_state_age_s for state in states] == pytest.approx([0.0, 0.003], abs=1e-6)
    assert list(states[1].joint_positions) == pytest.approx([0.1, 0.2, 0.3])
    assert list(states[1].labels) == list(states[1].frame_labels) == [SelfModelState.LABEL_UNKNOWN] * 4
    assert [k.intensity for k in states[1].predicted_keypoints] == [1.0, 0.0, 1.0, 0.0]
    send(99.0)   # from before the first joint state (100.0)
    send(100.05, num_keypoints=5)
    send(100.5)  # the joint states stopped at 100.1...
    send(100.6)  # ...and the keypoints move on
    joints.publish(joint_state(101.0))       # 100.6 lies in a 0.9 s gap of the joint states
    assert spin_until(executor, lambda: node.sync.num_waiting == 0)
    assert node.dropped == {"keypoints: no joint states": 1, "keypoints: keypoints before the first joint state": 1,
                            "keypoints: count differs from the body schema's": 1, "keypoints: stale joint states": 1,
                            "keypoints: gap in the joint states": 1}
    spin_until(executor, lambda: len(states) > 2, 0.5)
    assert len(states) == 2  # nothing published for a dropped frame


def test_unusable_joint_states_are_dropped_counted_and_never_used(fed_node, executor, spin_until):
    node, keypoints, joints, states = fed_node
    assert spin_until(executor, lambda: joints.get_subscription_count() and keypoints.get_subscription_count(), 5.0)
    joints.publish(joint_state(100.0))
    joints.publish(joint_state(100.2, positions=(0.1, 0.2)))
    joints.publish(joint_state(100.2, names=("j1", "j2", "elbow")))
    joints.publish(joint_state(100.2, positions=(0.1, float("nan"), 0.3)))
    assert spin_until(executor, lambda: sum(node.dropped.values()) == 3)
    assert node.dropped == {"joint_states: joint count mismatch": 1, "joint_states: unknown joint names": 1,
                            "joint_states: non-finite positions": 1}
    assert len(node.sync.joint_states) == 1
    keypoints.publish(keypoint_array(100.2))  # only the joint state of 100.0 was kept: 100.2 waits...
    keypoints.publish(keypoint_array(100.3))  # ...until the keypoints move on without one
    assert spin_until(executor, lambda: node.dropped["keypoints: stale joint states"] == 1)
    assert not states


def test_negative_and_hour_ahead_stamps_are_dropped_and_the_state_keeps_coming(fed_node, executor, spin_until):
    """A negative stamp used to kill the node (rclpy's Time raises), and one message stamped an hour
    ahead used to stop self_model/state for good."""
    node, keypoints, joints, states = fed_node
    assert spin_until(executor, lambda: joints.get_subscription_count() and keypoints.get_subscription_count(), 5.0)
    joints.publish(joint_state(100.0))
    # taken first: messages on two topics may be taken in any order (the events executor takes them as
    # they arrive, and a best-effort message can overtake a reliable one published before it)
    assert spin_until(executor, lambda: len(node.sync.joint_states) == 1)
    for message, publisher in ((joint_state(-5.0), joints), (keypoint_array(-5.0), keypoints),
                               (joint_state(100.0 + 3600), joints), (keypoint_array(100.0 + 3600), keypoints)):
        publisher.publish(message)
    assert spin_until(executor, lambda: sum(node.dropped.values()) == 4), node.dropped
    assert node.dropped == {"joint_states: negative stamp": 1, "keypoints: negative stamp": 1,
                            "joint_states: stamp jump": 1, "keypoints: stamp jump": 1}
    for stamp_s in np.arange(100.01, 100.2, 0.01):
        joints.publish(joint_state(stamp_s))
        keypoints.publish(keypoint_array(stamp_s))
        spin_until(executor, lambda: False, 0.01)
    assert spin_until(executor, lambda: len(states) >= 15), (len(states), node.dropped)


def test_malformed_messages_on_every_input_are_dropped_counted_and_good_ones_work_after(
        fed_node, executor, spin_until, publish_each, ros_context):
    """Fuzzed joint_states, keypoints and camera_info; then the node pairs and publishes as before."""
    import rclpy
    from sensor_msgs.msg import CameraInfo

    node, keypoints, joints, states = fed_node
    infos = rclpy.create_node("camera", context=ros_context).create_publisher(
        CameraInfo, "camera/camera_info", qos_profile_sensor_data)
    assert spin_until(executor, lambda: joints.get_subscription_count() and keypoints.get_subscription_count()
                      and infos.get_subscription_count(), 5.0)
    nan, inf = float("nan"), float("inf")
    joints.publish(joint_state(100.0))  # the time the others are judged against
    assert spin_until(executor, lambda: len(node.sync.joint_states) == 1)
    bad_joint_states = [
        joint_state(-1.0), joint_state(100.0 + 3600), joint_state(100.0 - 3600),  # the last is negative too
        joint_state(100.0, names=("j1", "j2", "j3", "j2"), positions=(0.1, 0.2, 0.3, 0.4)),
        joint_state(100.0, names=("j1", "j2", "elbow")), joint_state(100.0, names=(), positions=()),
        joint_state(100.0, names=[f"joint_{i}" for i in range(10_000)], positions=[0.0] * 10_000),
        joint_state(100.0, positions=(0.1, 0.2)), joint_state(100.0, positions=[0.0] * 100_000),
        joint_state(100.0, positions=(nan, 0.2, 0.3)), joint_state(100.0, positions=(0.1, -inf, 0.3)),
    ]
    dropped = lambda: sum(node.dropped.values())  # noqa: E731
    assert publish_each(executor, joints, bad_joint_states, dropped) == []
    bad_keypoints = [keypoint_array(-1.0), keypoint_array(100.0 + 3600), keypoint_array(100.0, num_keypoints=3),
                     keypoint_array(100.0, num_keypoints=10_000), keypoint_array(100.0), keypoint_array(100.0)]
    bad_keypoints[-2].keypoints[1].x_norm = nan
    bad_keypoints[-1].keypoints[3].intensity = inf
    assert publish_each(executor, keypoints, bad_keypoints, dropped) == []
    bad_infos = [CameraInfo(k=[nan] * 9), CameraInfo(k=[0.0] * 9), CameraInfo(k=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 0])]
    assert publish_each(executor, infos, bad_infos, dropped) == []
    assert node.dropped == {
        "joint_states: negative stamp": 2, "joint_states: stamp jump": 1, "joint_states: duplicate joint names": 1,
        "joint_states: unknown joint names": 3, "joint_states: joint count mismatch": 2,
        "joint_states: non-finite positions": 2, "keypoints: negative stamp": 1, "keypoints: stamp jump": 1,
        "keypoints: count differs from the body schema's": 2, "keypoints: non-finite": 2, "camera_info: unusable": 3}
    assert not states and node.intrinsics is None
    for stamp_s in np.arange(100.01, 100.2, 0.01):
        joints.publish(joint_state(stamp_s))
        keypoints.publish(keypoint_array(stamp_s))
        spin_until(executor, lambda: False, 0.01)
    assert spin_until(executor, lambda: len(states) >= 15), (len(states), node.dropped)


def test_a_missing_or_corrupt_body_schema_stops_the_node_with_a_clear_error(ros_context, tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        SelfModelNode(context=ros_context,
                      parameter_overrides=[Parameter("body_schema", value=str(tmp_path / "missing.pt"))])
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(SystemExit, match=f"self_model_node: cannot open the body schema or self evidence: {corrupt}: "
                                         f"not a readable"):
        main(["--ros-args", "-p", f"body_schema:={corrupt}"])
    with pytest.raises(SystemExit, match=f"cannot open the body schema or self evidence: {corrupt}: not a readable"):
        main(["--ros-args", "-p", f"self_evidence:={corrupt}"])


def test_the_parameter_file_sets_exactly_the_declared_parameters():
    values = yaml.safe_load((PACKAGE / "smrl_self_model" / "config" / "self_model_node.yaml").read_text())
    values = values["self_model"]["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]) and value == PARAMETERS[name][0], name


def test_the_shipped_body_schema_was_trained_on_the_shipped_keypoint_model():
    """Its keypoint indices mean nothing for another keypoint model: retrain it when that changes
    (models/README.md)."""
    schema = load_shipped_body_schema()
    keypoints = importlib.resources.files("smrl_perception") / "models" / "keypoints_default.pt"
    assert schema.keypoint_model_sha256 == hashlib.sha256(keypoints.read_bytes()).hexdigest()
    assert schema.joint_names == [f"panda_joint{i}" for i in range(1, 8)]


def test_self_evidence_of_another_keypoint_model_is_refused(ros_context, tmp_path, synthetic_episode):
    """The samples' keypoint indices mean nothing for another keypoint model's body schema."""
    from smrl_self_model.core.contingency import label_episodes

    schema = load_shipped_body_schema()
    episode = synthetic_episode(0)
    labeller = label_episodes([episode.centers[:, :schema.num_keypoints]], [episode.intensities[:, :schema.num_keypoints]],
                              [episode.joint_positions_rad[:, :schema.num_joints]])
    evidence = labeller.save_evidence(tmp_path / "evidence.pt", keypoint_model_sha256="0" * 64)
    with pytest.raises(ModelFileError, match="keypoint model 000000000000"):
        SelfModelNode(context=ros_context, parameter_overrides=[Parameter("self_evidence", value=str(evidence))])
    fitting = labeller.save_evidence(tmp_path / "fitting.pt", keypoint_model_sha256=schema.keypoint_model_sha256)
    node = SelfModelNode(context=ros_context, parameter_overrides=[Parameter("self_evidence", value=str(fitting))])
    np.testing.assert_array_equal(node.labeller.labels, labeller.labels)  # starts from what was learned
    node.destroy_node()


def test_started_from_self_evidence_the_node_labels_on_it_alone_unless_it_keeps_learning(ros_context, tmp_path,
                                                                                         synthetic_episode):
    """As a policy trained on a frozen self model saw it; keep_learning, or no evidence, and the same
    frames add samples."""
    from smrl_self_model.core.contingency import label_episodes

    schema = load_shipped_body_schema()
    k, n = schema.num_keypoints, schema.num_joints
    first, second = synthetic_episode(0), synthetic_episode(1, num_frames=200)
    labeller = label_episodes([first.centers[:, :k]], [first.intensities[:, :k]], [first.joint_positions_rad[:, :n]])
    evidence = labeller.save_evidence(tmp_path / "evidence.pt", keypoint_model_sha256=schema.keypoint_model_sha256)
    samples = {}
    for case, overrides in (("frozen", [Parameter("self_evidence", value=str(evidence))]),
                            ("keeps learning", [Parameter("self_evidence", value=str(evidence)),
                                                Parameter("keep_learning", value=True)]),
                            ("from nothing", [])):
        node = SelfModelNode(context=ros_context, parameter_overrides=overrides)
        for t, (centers, q) in enumerate(zip(second.centers[:, :k], second.joint_positions_rad[:, :n])):
            node.on_joint_state(joint_state(100 + 0.1 * t, schema.joint_names, q.tolist()))
            msg = KeypointArray(image_width=64, image_height=64,
                                keypoints=[Keypoint(x_norm=x, y_norm=y, intensity=1.0) for x, y in centers.tolist()])
            msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + t // 10, t % 10 * 100_000_000
            node.on_keypoints(msg)
        assert node.published["self_model/state"] >= 190 and not node.dropped, (node.published, node.dropped)
        samples[case] = node.labeller.num_samples
        if case == "frozen":
            np.testing.assert_array_equal(node.labeller.labels, labeller.labels)
        node.destroy_node()
    assert samples["frozen"] == labeller.num_samples < samples["keeps learning"], (samples, labeller.num_samples)
    assert 0 < samples["from nothing"] == samples["keeps learning"] - labeller.num_samples, samples


def test_a_failing_label_refresh_is_logged_and_counted_and_the_node_labels_on(ros_context):
    node = SelfModelNode(context=ros_context)
    try:
        labels = node.labeller.labels

        def failing_refresh() -> None:
            raise RuntimeError("linear algebra went wrong")

        node.labeller.refresh = failing_refresh
        node.refresh_labels()
        node.refresh_labels()
        assert node.refresh_failures == 2
        np.testing.assert_array_equal(node.labeller.labels, labels)
    finally:
        node.destroy_node()
