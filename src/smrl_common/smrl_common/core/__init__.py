"""ROS-free core of smrl_common: importable and testable without rclpy."""
