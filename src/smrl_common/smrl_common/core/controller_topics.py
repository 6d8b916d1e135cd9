"""The joint command topics, named once: those a real arm's ros2_control controllers take.

ros2_control's forward_command_controller (forward_position_controller, and the gripper's)
subscribes to `<controller>/commands` (std_msgs/Float64MultiArray), joint_trajectory_controller to
`<controller>/joint_trajectory`; these are the names with the controller names ros2_control's
examples use. As every ROS 2 topic name they are fixed in code, not parameters: to reach a driver
whose controllers are named otherwise, remap them (`--ros-args -r
forward_position_controller/commands:=/my_arm/commands`, or `remappings` in smrl_bringup's
config/graph.yaml).
"""
ARM_COMMANDS = "forward_position_controller/commands"
GRIPPER_COMMANDS = "gripper_controller/commands"
ARM_TRAJECTORY = "joint_trajectory_controller/joint_trajectory"
