"""The graph description: one file that both ros2 launch and the embedded starter read."""
import re
from pathlib import Path

import pytest
import yaml

from smrl_bringup.core.graph_description import GraphError, load_graph

REPO = Path(__file__).resolve().parents[3]


def test_the_default_graph_is_the_sim_babbling_keypoints_and_self_model():
    nodes = {node.name: node for node in load_graph().resolve()}
    assert list(nodes) == ["sim", "scripted_motion", "keypoint_detector", "self_model"]
    assert nodes["scripted_motion"].parameters == {"robot": "panda", "pattern": "babbling", "speed_scale": 1.0}
    assert nodes["sim"].parameters["distractor_arm"] is False and nodes["sim"].parameters["image_width"] == 0


def test_arguments_are_substituted_and_typed_as_ros2_launch_types_them():
    nodes = {node.name: node for node in load_graph().resolve(
        {"distractor_arm": "true", "image_size": "128", "scene": "kuka", "robot": "kuka", "record": "bags/run 1"})}
    assert nodes["sim"].parameters["distractor_arm"] is True and nodes["sim"].parameters["image_height"] == 128
    assert nodes["sim"].parameters["scene"] == "kuka" and nodes["scripted_motion"].parameters["robot"] == "kuka"
    assert nodes["recorder"].parameters["output"] == "bags/run 1"
    assert "self_model/state" in nodes["recorder"].parameters["topics"]


def test_without_the_sim_a_bag_is_replayed_as_the_driver_and_without_a_bag_nothing_drives():
    graph = load_graph()
    names = [node.name for node in graph.resolve({"use_sim": "false", "bag": "bags/run1"})]
    assert "sim" not in names and "replay_driver" in names
    replay = next(node for node in graph.resolve({"use_sim": "false", "bag": "bags/run1"}) if node.name == "replay_driver")
    assert replay.parameters["bag"] == "bags/run1" and replay.parameters["loop"] is True
    assert replay.parameter_files[0].name == "replay_driver_node.yaml"
    assert {"sim", "replay_driver"}.isdisjoint(node.name for node in graph.resolve({"use_sim": "false"}))


def test_with_a_policy_file_the_policy_node_drives_the_arm_instead_of_the_scripted_motion():
    nodes = {node.name: node for node in load_graph().resolve({"policy": "policies/td3_touch.pt", "robot": "kuka"})}
    assert "scripted_motion" not in nodes, "one node commands the arm at a time"
    assert nodes["policy"].parameters == {"robot": "kuka", "policy_file": "policies/td3_touch.pt"}
    assert nodes["policy"].module() == "smrl_policy.policy_node"
    assert {"sim", "keypoint_detector", "self_model"} <= set(nodes)
    assert "policy" not in [node.name for node in load_graph().resolve()], "no policy file: babbling, as before"


def test_ros_arguments_name_the_node_and_carry_files_overrides_and_remappings(tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump({
        "arguments": {"camera": {"default": "camera", "description": "camera namespace"}},
        "nodes": [{"name": "kp", "package": "smrl_perception", "executable": "keypoint_node",
                   "parameter_files": ["smrl_perception/keypoint_node.yaml"], "parameters": {"num_threads": 2},
                   "remappings": {"camera/image_raw": "$(arg camera)/image"}}]}))
    node, = load_graph(path).resolve({"camera": "wrist"})
    assert node.ros_arguments() == [
        "--ros-args", "-r", "__node:=kp", "--params-file", str(node.parameter_files[0]),
        "-p", "num_threads:=2", "-r", "camera/image_raw:=wrist/image"]
    assert node.module() == "smrl_perception.keypoint_node"
    with pytest.raises(GraphError, match="unknown arguments"):
        load_graph(path).resolve({"cmaera": "x"})


def test_a_node_using_an_undeclared_argument_is_refused(tmp_path):
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump({"arguments": {}, "nodes": [
        {"name": "sim", "package": "smrl_sim", "executable": "sim_node", "when": ["use_sim"]}]}))
    with pytest.raises(GraphError, match="undeclared arguments"):
        load_graph(path)


def test_every_node_names_an_existing_console_script_and_parameter_files_keyed_by_its_name():
    graph = load_graph()
    for spec in graph.nodes:
        node = graph.resolve_node(spec, graph.argument_values({}))
        assert node.module()  # the package has the console script
        for path in node.parameter_files:
            assert path.is_file(), path
            assert node.name in yaml.safe_load(path.read_text()), f"{path.name} is not keyed by {node.name}"


def test_the_launch_files_read_the_graph_description_instead_of_listing_nodes():
    launch_files = sorted((REPO / "launch").glob("*.launch.py"))
    assert {path.name for path in launch_files} == {"demo.launch.py", "sim.launch.py"}
    for path in [*launch_files, REPO / "src/smrl_bringup/smrl_bringup/launch_nodes.py"]:
        compile(path.read_text(), str(path), "exec")
    for path in launch_files:
        text = path.read_text()
        assert "from smrl_bringup.launch_nodes import declare_arguments, graph_nodes" in text
        assert not re.findall(r'package="smrl_\w+"', text), f"{path.name} lists an SMRL node itself"
        for names in re.findall(r"declare_arguments\(\[([^\]]*)\]\)", text):
            assert set(re.findall(r'"(\w+)"', names)) <= set(load_graph().arguments), path.name
    demo = (REPO / "launch" / "demo.launch.py").read_text()
    assert '"sim.launch.py"' in demo and 'exclude=("sim",)' in demo
