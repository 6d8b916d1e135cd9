"""ament_python package smrl_bag: ROS-free core in smrl_bag.core, thin nodes beside it."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_bag"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["config/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob(package_name + "/config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SMRL developers",
    maintainer_email="smrl@example.org",
    description="rosbag2 MCAP recording without rosbag2, and a replay driver that stands in for a real arm from a bag.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "recorder_node = smrl_bag.recorder_node:main",
            "replay_driver_node = smrl_bag.replay_driver_node:main",
        ],
    },
)
