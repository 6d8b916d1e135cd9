"""ament_python package smrl_bringup: the graph description, the embedded starter and the demo."""
from glob import glob

from setuptools import find_packages, setup

package_name = "smrl_bringup"

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
    description="The SMRL node graph described once, the embedded starter (one process per node) and the demo.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "start_graph = smrl_bringup.start_graph:main",
            "smrl_demo = smrl_bringup.demo:main",
        ],
    },
)
