"""No node needs PyBullet unless it simulates: the perception, self-model and policy nodes import without it.

Each import runs in a fresh interpreter, since this test session has long since imported the sim.
"""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("node_module", ["smrl_perception.keypoint_node", "smrl_self_model.self_model_node",
                                         "smrl_policy.policy_node"])
def test_node_module_imports_without_pybullet(node_module):
    check = (f"import sys, {node_module}\n"
             "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pybullet'))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{node_module} imports {result.stdout.strip()}"
