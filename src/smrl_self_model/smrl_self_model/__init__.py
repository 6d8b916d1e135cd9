"""The agent's inner state: which keypoints are itself, and a learned body schema."""
