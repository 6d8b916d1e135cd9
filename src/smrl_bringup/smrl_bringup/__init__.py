"""The SMRL node graph: described once, started by ros2 launch or by the embedded starter."""
