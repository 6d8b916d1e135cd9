"""ament_python package smrl_perception: ROS-free core in smrl_perception.core, thin nodes beside it."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_perception"

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
    description="Unsupervised keypoints from camera images (Transporter, Kulkarni et al. 2019) and the keypoint node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "keypoint_node = smrl_perception.keypoint_node:main",
            "train_keypoints = smrl_perception.train:main",
            "probe_keypoints = smrl_perception.probe:main",
            "benchmark_keypoints = smrl_perception.benchmark:main",
        ],
    },
)
