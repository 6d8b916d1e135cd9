#!/bin/bash
# Runs the container's command in a shell that has ROS 2 and the SMRL workspace sourced.
# (No `set -u`: the ROS setup scripts read unset variables.)
# shellcheck disable=SC1091  # the sourced files exist only inside the image
set -eo pipefail
source /opt/ros/kilted/setup.bash
source /ws/install/setup.bash
exec "$@"
