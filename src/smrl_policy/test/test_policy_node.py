"""The policy node over real DDS, with a scripted policy (the node is under test, not the policy):
commands within position and velocity limits under an adversarial policy, holds on stale inputs,
malformed inputs and unusable actions dropped and counted, image -> command latency measured."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray

from smrl_common.core.controller_topics import ARM_COMMANDS, GRIPPER_COMMANDS
from smrl_msgs.msg import Keypoint, SelfModelState
from smrl_policy.core.observation import observation_size
from smrl_policy.policy_node import PARAMETERS, PolicyLoadError, PolicyNode, load_policy_file, main
from smrl_sim.core.robot_config import load_robot_config

PACKAGE = Path(__file__).resolve().parents[1]
ROBOT = load_robot_config("panda")
LIMITS = ROBOT.arm_limits()
NUM_KEYPOINTS = 4
RATE_HZ = 50.0  # faster than the default, so that the velocity limits bind (v * dt < max_joint_delta_rad)


class ScriptedPolicy:
    """Returns `action` whatever it sees (once it checked the observation's size), or raises `error`."""
    observation_kind = "self_model"

    def __init__(self, action, max_joint_delta_rad: float = 1.0) -> None:
        self.action = action
        self.max_joint_delta_rad = max_joint_delta_rad
        self.error: Exception | None = None
        self.observations: list[np.ndarray] = []

    def act(self, observation: np.ndarray) -> np.ndarray:
        # the env's joint_positions: the arm, then the fingers (SmrlEnv._observation)
        assert observation.shape == (observation_size(ROBOT.num_joints + len(ROBOT.gripper_joint_names), NUM_KEYPOINTS),)
        self.observations.append(observation)
        if self.error is not None:
            raise self.error
        return np.asarray(self.action, dtype=np.float32)

    def save(self, path):
        raise NotImplementedError


class FakeArm:
    """A driver that follows every arm command at once (the worst case for speed) and the test's
    self model, publishing states stamped now, as the real one copies the image's stamp."""

    def __init__(self, context, executor) -> None:
        import rclpy

        self.node = rclpy.create_node("fake_arm", context=context)
        executor.add_node(self.node)
        self.measured = np.array(ROBOT.home_positions)
        self.gripper = np.array(ROBOT.gripper_closed_positions)
        self.commands: list[np.ndarray] = []
        self.reported: list[np.ndarray] = []  # arm positions published on joint_states
        self.gripper_commands: list[np.ndarray] = []
        self.latencies_ms: list[float] = []
        self.follow = True
        self.node.create_subscription(Float64MultiArray, ARM_COMMANDS, self.on_command, 100)
        self.node.create_subscription(Float64MultiArray, GRIPPER_COMMANDS,
                                      lambda m: self.gripper_commands.append(np.array(m.data)), 100)
        self.node.create_subscription(Float64, "policy/latency_ms", lambda m: self.latencies_ms.append(m.data), 100)
        self.joint_pub = self.node.create_publisher(JointState, "joint_states", 10)
        self.state_pub = self.node.create_publisher(SelfModelState, "self_model/state", qos_profile_sensor_data)
        self.timers = {}

    def on_command(self, msg: Float64MultiArray) -> None:
        self.commands.append(np.array(msg.data))
        if self.follow:
            self.measured = np.array(msg.data)

    def joint_state(self) -> JointState:
        self.reported.append(self.measured.copy())
        return JointState(name=[*ROBOT.joint_names, *ROBOT.gripper_joint_names],
                          position=[*self.measured.tolist(), *self.gripper.tolist()])

    def state(self) -> SelfModelState:
        msg = SelfModelState(keypoints=[Keypoint(x_norm=0.1 * k, y_norm=-0.1 * k, intensity=0.5) for k in range(NUM_KEYPOINTS)],
                             frame_labels=[1, 2, 0, 1][:NUM_KEYPOINTS])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        return msg

    def start(self, what: str) -> None:
        """joint_states at 100 Hz, self model states at 30 Hz (the camera's rate), as the sim's graph."""
        if what == "joint_states":
            self.timers[what] = self.node.create_timer(0.01, lambda: self.joint_pub.publish(self.joint_state()))
        else:
            self.timers[what] = self.node.create_timer(1 / 30, lambda: self.state_pub.publish(self.state()))

    def stop(self, what: str) -> None:
        self.node.destroy_timer(self.timers.pop(what))


@pytest.fixture
def arm(ros_context, executor):
    return FakeArm(ros_context, executor)


def start_policy_node(context, executor, policy, **parameters) -> PolicyNode:
    overrides = [Parameter("rate_hz", value=RATE_HZ), *(Parameter(k, value=v) for k, v in parameters.items())]
    node = PolicyNode(policy, context=context, parameter_overrides=overrides)
    executor.add_node(node)
    return node


def test_an_always_plus_one_policy_is_held_to_the_position_and_velocity_limits_at_every_command(
        ros_context, executor, spin_until, arm):
    node = start_policy_node(ros_context, executor, ScriptedPolicy(np.ones(ROBOT.num_joints + 1)))
    spin_until(executor, lambda: False, 0.3)
    assert not arm.commands, "nothing measured yet: no command"
    arm.start("joint_states")
    arm.start("self_model/state")
    start = arm.measured.copy()
    # The slowest joint needs (upper - home) / v s to reach its limit: ~1.5 s for the Panda.
    assert spin_until(executor, lambda: arm.commands and np.allclose(arm.commands[-1], LIMITS.upper), 10.0), \
        (len(arm.commands), node.safety.holds, node.dropped)
    commands = np.array([start, *arm.commands])
    assert np.all(commands <= LIMITS.upper + 1e-12) and np.all(commands >= LIMITS.lower - 1e-12)
    steps = np.abs(np.diff(commands, axis=0))
    assert np.all(steps <= LIMITS.velocity / RATE_HZ + 1e-9), "a command is at most v_max * period from the one before"
    assert 0.9 < node.safety.peak_speed_ratio <= 1.0 + 1e-9, node.safety.peak_speed_ratio
    assert (steps / (LIMITS.velocity / RATE_HZ)).max() > 0.9, "the velocity limit is what held it back"
    gripper = np.array(arm.gripper_commands)
    assert np.allclose(gripper[-1], ROBOT.gripper_open_positions), "+1 opens the gripper"
    assert np.all(np.abs(np.diff(gripper, axis=0)) <= np.array(ROBOT.gripper_velocity_limits) / RATE_HZ + 1e-9), np.abs(np.diff(gripper, axis=0)).max(axis=1).tolist()
    assert not node.dropped and not node.safety.holds.get("stale self-model state")
    print(f"\npeak speed ratio {node.safety.peak_speed_ratio:.4f}, commands {node.safety.commands}")


def test_it_holds_the_measured_position_when_the_self_model_state_or_the_joint_states_go_stale(
        ros_context, executor, spin_until, arm):
    policy = ScriptedPolicy(np.full(ROBOT.num_joints + 1, -0.5), max_joint_delta_rad=0.05)
    node = start_policy_node(ros_context, executor, policy, stale_after_s=0.25)
    arm.start("joint_states")
    assert spin_until(executor, lambda: node.safety.holds.get("no self-model state yet") and arm.commands, 3.0)
    np.testing.assert_allclose(arm.commands[-1], ROBOT.home_positions, err_msg="joint states but no state: hold")
    arm.start("self_model/state")
    assert spin_until(executor, lambda: node.safety.commands >= 10, 5.0)

    for stale_input, reason in (("self_model/state", "stale self-model state"), ("joint_states", "stale joint states")):
        arm.stop(stale_input)
        stopped_at = len(arm.commands)
        assert spin_until(executor, lambda: node.safety.holds.get(reason, 0) >= 10, 3.0), node.safety.holds
        held = np.array(arm.commands[stopped_at:])
        policy_commands = len(held) - node.safety.holds[reason]
        assert policy_commands <= 0.25 * RATE_HZ + 2, "policy commands end once the input is older than stale_after_s"
        np.testing.assert_allclose(held[-9:], np.tile(held[-1], (9, 1)), err_msg="a hold does not move")
        assert any(np.array_equal(held[-1], measured) for measured in arm.reported[-20:]), \
            "it holds a position the arm reported on joint_states"
        measured_at_hold = held[-1]
        arm.start(stale_input)
        commands_before = node.safety.commands
        assert spin_until(executor, lambda: node.safety.commands >= commands_before + 5, 3.0), "moves again once fresh"
        assert np.all(arm.commands[-1] < measured_at_hold), "the policy (-0.5) drives it again"


def test_malformed_inputs_and_unusable_actions_are_dropped_and_counted_never_a_crash(
        ros_context, executor, spin_until, publish_each, arm):
    policy = ScriptedPolicy(np.zeros(ROBOT.num_joints + 1), max_joint_delta_rad=0.05)
    node = start_policy_node(ros_context, executor, policy)
    names = [*ROBOT.joint_names, *ROBOT.gripper_joint_names]
    bad_joint_states = [
        JointState(name=names, position=[0.0] * 3),                                   # wrong joint count
        JointState(name=names, position=[float("nan")] * len(names)),                 # NaN
        JointState(name=["elbow"] * len(names), position=[0.0] * len(names)),         # duplicate, unknown names
        JointState(name=[f"j{i}" for i in range(len(names))], position=[0.0] * len(names)),
    ]
    missed = publish_each(executor, arm.joint_pub, bad_joint_states, lambda: sum(node.dropped.values()))
    assert not missed, node.dropped
    assert set(node.dropped) == {"joint_states: joint count mismatch", "joint_states: non-finite positions",
                                 "joint_states: duplicate joint names", "joint_states: unknown joint names"}
    assert node.measured_arm is None and not arm.commands, "nothing usable measured: nothing commanded"

    good = arm.state()
    bad_states = [SelfModelState(keypoints=good.keypoints, frame_labels=[1]),           # one label for 4 keypoints
                  SelfModelState(keypoints=[Keypoint(x_norm=float("nan"))] * NUM_KEYPOINTS, frame_labels=[0] * 4)]
    missed = publish_each(executor, arm.state_pub, bad_states, lambda: sum(node.dropped.values()))
    assert not missed, node.dropped
    assert node.dropped["self_model/state: label count mismatch"] == 1
    assert node.dropped["self_model/state: non-finite keypoints"] == 1
    assert node.keypoints is None

    arm.start("joint_states")
    arm.start("self_model/state")
    assert spin_until(executor, lambda: node.safety.commands >= 5, 5.0)
    for action, reason in ((np.full(ROBOT.num_joints + 1, np.nan), "action: non-finite action"),
                           (np.zeros(3), "action: wrong action size")):
        policy.action = action
        assert spin_until(executor, lambda: node.dropped[reason] >= 3, 3.0), node.dropped
        assert node.safety.holds["unusable action"] >= 3
    policy.action, policy.error = np.zeros(ROBOT.num_joints + 1), RuntimeError("the policy broke")
    assert spin_until(executor, lambda: node.dropped["action: policy error"] >= 3, 3.0), node.dropped
    assert node.safety.holds["policy error"] >= 3
    policy.error = None
    commands_before = node.safety.commands
    assert spin_until(executor, lambda: node.safety.commands >= commands_before + 5, 3.0), "still alive, commanding"
    assert np.all(np.isfinite(np.array(arm.commands)))
    assert np.all(np.array(arm.commands) <= LIMITS.upper) and np.all(np.array(arm.commands) >= LIMITS.lower)


def test_image_to_command_latency_is_measured_and_published(ros_context, executor, spin_until, arm):
    """At the default 10 Hz a tick starts as a state arrives, so a command carries that image at once."""
    node = start_policy_node(ros_context, executor, ScriptedPolicy(np.zeros(ROBOT.num_joints + 1), 0.05),
                             rate_hz=10.0)
    arm.start("joint_states")
    arm.start("self_model/state")
    assert spin_until(executor, lambda: len(arm.latencies_ms) >= 30, 10.0)
    latencies = np.array(arm.latencies_ms)
    median, p90 = np.median(latencies), np.percentile(latencies, 90)
    print(f"\nimage -> command latency over {len(latencies)} commands: median {median:.2f} ms, p90 {p90:.2f} ms; "
          f"node: {node.latency_summary_ms()}")
    assert np.all(latencies >= 0)
    assert median <= 15.0, latencies
    assert node.latency_summary_ms()["median"] == pytest.approx(np.median(list(node.latencies_ms)), abs=0.01)
    commands_before = node.safety.commands
    spin_until(executor, lambda: False, 1.0)
    assert 5 <= node.safety.commands - commands_before <= 13, "about rate_hz (10) commands a second"


def test_without_a_policy_file_or_with_a_privileged_policy_the_node_does_not_start(ros_context):
    with pytest.raises(PolicyLoadError, match="no policy given"):
        PolicyNode(context=ros_context)
    with pytest.raises(PolicyLoadError):
        load_policy_file("/nonexistent/policy.pt")
    privileged = ScriptedPolicy(np.zeros(8))
    privileged.observation_kind = "privileged"
    with pytest.raises(PolicyLoadError, match="privileged"):
        PolicyNode(privileged, context=ros_context)
    with pytest.raises(PolicyLoadError, match="not a Policy"):
        PolicyNode(object(), context=ros_context)
    grasping = ScriptedPolicy(np.zeros(3))
    grasping.metadata = {"scripted_grasp": True}  # a pick policy: dx, dy, d-yaw for the scripted grasp
    with pytest.raises(PolicyLoadError, match="scripted grasp"):
        PolicyNode(grasping, context=ros_context)


def test_the_program_ends_with_one_line_naming_the_policy_file_when_it_cannot_be_loaded(tmp_path):
    with pytest.raises(SystemExit, match="policy_node: cannot open the policy: no policy given"):
        main([])
    missing = tmp_path / "missing.pt"
    with pytest.raises(SystemExit, match=f"policy_node: cannot open the policy: {missing}: "):
        main(["--ros-args", "-p", f"policy_file:={missing}"])


def test_the_parameter_file_sets_exactly_the_declared_parameters():
    values = yaml.safe_load((PACKAGE / "smrl_policy" / "config" / "policy_node.yaml").read_text())
    values = values["policy"]["ros__parameters"]
    assert set(values) == set(PARAMETERS)
    for name, value in values.items():
        assert type(value) is type(PARAMETERS[name][0]) and value == PARAMETERS[name][0], name
