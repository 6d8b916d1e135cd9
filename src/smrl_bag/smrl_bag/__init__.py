"""rosbag2 MCAP recording without rosbag2, and a replay driver that stands in for a real arm from a bag."""
