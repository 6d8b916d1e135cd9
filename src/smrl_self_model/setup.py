"""ament_python package smrl_self_model: ROS-free core in smrl_self_model.core, thin nodes beside it."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_self_model"

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
    description="The agent's inner state: which keypoints are itself, and a learned body schema.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "self_model_node = smrl_self_model.self_model_node:main",
            "evaluate_self_model = smrl_self_model.evaluate:main",
        ],
    },
)
