"""ament_python package smrl_common: ROS-free core in smrl_common.core, node helpers beside it."""
from setuptools import find_packages, setup

package_name = "smrl_common"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="SMRL developers",
    maintainer_email="smrl@example.org",
    description="What every SMRL package shares: node helpers, the image codec, the pixel coordinate convention, joint name checks, joint limits with the one joint command guard, and the rosbags typestore with smrl_msgs; no simulator.",
    license="Apache-2.0",
)
