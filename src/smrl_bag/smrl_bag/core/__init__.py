"""ROS-free core of smrl_bag: importable and testable without rclpy."""
