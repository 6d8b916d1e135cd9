"""ament_python package smrl_policy: ROS-free core in smrl_policy.core, thin nodes beside it."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_policy"

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
    description="Data collection, TD3, DDPG and active-inference policies on the self-model state, and the policy node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = smrl_policy.policy_node:main",
        ],
    },
)
