"""ROS-free core of smrl_self_model: importable and testable without rclpy."""
