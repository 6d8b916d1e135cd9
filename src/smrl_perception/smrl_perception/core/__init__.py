"""ROS-free core of smrl_perception: importable and testable without rclpy."""
