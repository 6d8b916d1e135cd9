"""What every SMRL package shares, so that no node needs the simulator (PyBullet) unless it simulates."""
