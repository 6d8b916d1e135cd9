"""The demo launch file swaps the sim for the replay driver or a real driver (`use_sim`, `bag`).

Launch is not installed in the embedded route, so the file is checked as text and compiled, as
smrl_sim's test_configuration checks every launch file's executables and config files.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_demo_launch_declares_use_sim_and_bag_and_starts_the_replay_driver():
    text = (REPO / "launch" / "demo.launch.py").read_text()
    compile(text, "demo.launch.py", "exec")
    declared = dict(re.findall(r'DeclareLaunchArgument\("(\w+)", default_value="([^"]*)"', text))
    assert declared["use_sim"] == "true" and declared["bag"] == ""
    assert 'package="smrl_bag", executable="replay_driver_node"' in text
    assert 'config("smrl_bag", "replay_driver_node.yaml")' in text
