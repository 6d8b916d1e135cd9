"""ROS-free core of smrl_sim: importable and testable without rclpy."""
