"""Data collection, TD3, DDPG and active-inference policies on the self-model state, and the policy node."""
