"""ROS-free core of smrl_policy: importable and testable without rclpy."""
