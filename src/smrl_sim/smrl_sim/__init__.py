"""PyBullet world with a 7-DoF arm, a table and objects; touch and pick tasks; the sim node that stands in for a real arm's driver."""
