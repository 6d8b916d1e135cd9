"""ament_python package smrl_sim: ROS-free core in smrl_sim.core, thin nodes beside it."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_sim"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["config/*.yaml", "config/**/*.yaml", "models/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob(package_name + "/config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SMRL developers",
    maintainer_email="smrl@example.org",
    description="PyBullet world with a 7-DoF arm, a table and objects; touch and pick tasks; the sim node that stands in for a real arm's driver.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = smrl_sim.sim_node:main",
            "scripted_motion_node = smrl_sim.scripted_motion_node:main",
            "episode_runner_node = smrl_sim.episode_runner_node:main",
            "smrl_collect = smrl_sim.core.collect:main",
            "smrl_sim_benchmark = smrl_sim.benchmark:main",
        ],
    },
)
