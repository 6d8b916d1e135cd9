"""Configuration files agree with the code: node parameter YAML, launch files, shipped configs."""
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from smrl_sim.core.config_files import shipped_names
from smrl_sim.core.scene import SimWorld, load_scene_config
from smrl_sim.scripted_motion_node import PARAMETERS as MOTION_PARAMETERS
from smrl_sim.sim_node import PARAMETERS as SIM_PARAMETERS

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parents[1]


@pytest.mark.parametrize("file, node, declared", [
    ("sim_node.yaml", "sim", SIM_PARAMETERS), ("scripted_motion_node.yaml", "scripted_motion", MOTION_PARAMETERS)])
def test_node_parameter_files_set_exactly_the_declared_parameters_with_their_types(file, node, declared):
    values = yaml.safe_load((PACKAGE / "smrl_sim" / "config" / file).read_text())[node]["ros__parameters"]
    assert set(values) == set(declared)
    for name, value in values.items():
        assert type(value) is type(declared[name][0]), name


def test_sim_node_reads_its_parameter_file(tmp_path):
    import rclpy
    from rclpy.context import Context

    from smrl_sim.sim_node import SimNode

    params = yaml.safe_load((PACKAGE / "smrl_sim" / "config" / "sim_node.yaml").read_text())
    params["sim"]["ros__parameters"].update(image_width=80, task="pick")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    context = Context()
    rclpy.init(args=["--ros-args", "--params-file", str(path)], context=context)
    try:
        node = SimNode(context=context)
        assert node.world.config.camera.width == 80 and node.task.name == "pick"
        node.destroy_node()
    finally:
        context.try_shutdown()


def test_launch_files_compile_and_include_existing_launch_files():
    """The nodes they start come from smrl_bringup's graph description, checked there
    (test_graph_description.py): executables, parameter files, arguments."""
    for launch_file in (REPO / "launch").glob("*.launch.py"):
        text = launch_file.read_text()
        compile(text, str(launch_file), "exec")
        for name in re.findall(r'"(\w+\.launch\.py)"', text):
            assert (REPO / "launch" / name).is_file()
    assert "sim_node = smrl_sim.sim_node:main" in (PACKAGE / "setup.py").read_text()


@pytest.mark.parametrize("scene", shipped_names("scenes"))
def test_every_shipped_scene_builds_and_renders(scene):
    world = SimWorld(load_scene_config(scene, distractor_arm=True))
    try:
        world.reset(np.random.default_rng(0))
        rgb, segmentation = world.render(segmentation=True)
        assert world.self_mask(segmentation).any() and world.object_mask(segmentation).any()
    finally:
        world.close()


def test_the_kuka_scene_frames_the_whole_arm_where_the_original_camera_shows_one_link():
    """kuka_original keeps the original project's 48 px camera, which sees almost none of the arm;
    the kuka scene frames it like the default scene, as a self model learning from pixels needs."""
    links_in_view = {}
    for scene in ("kuka", "kuka_original"):
        world = SimWorld(load_scene_config(scene))
        try:
            world.reset(np.random.default_rng(0))
            pixels = world.camera.project(world.robot.link_positions())
            size = world.config.camera.width
            links_in_view[scene] = int(((pixels >= 0) & (pixels <= size - 1)).all(axis=1).sum())
            total = len(pixels)
        finally:
            world.close()
    assert links_in_view["kuka"] == total and links_in_view["kuka_original"] <= 2
