"""Someone moves the object now and then: random re-placements of the task object mid-episode.

Keypoints learn to sit on what changes between two frames. An object that moves only when the arm
happens to push it changes in few frame pairs, so no keypoint is spent on it; re-placing it every
`every_s` seconds (uniform [min, max]) anywhere on the table makes the object a moving thing of its
own, in every scene. Anywhere, not only in the arm's reach: over the small spawn area, keypoints
resting on the table next to it passed the object through as a window (their Gaussian maps covered
where it appeared) instead of following it.
Its keypoint must then track it when it is still too: the detector sees single frames.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from smrl_sim.core.scene import SimWorld


class ObjectRelocation:
    """Call `step()` once per control period; it re-places the object when its time is up."""

    def __init__(self, world: SimWorld, rng: np.random.Generator, control_period_s: float,
                 every_s: tuple[float, float]) -> None:
        if not 0 < every_s[0] <= every_s[1]:
            raise ValueError(f"every_s {every_s} must be 0 < min <= max seconds")
        self.world = world
        self.rng = rng
        self.control_period_s = control_period_s
        self.every_s = every_s
        self._time_left_s = rng.uniform(*every_s)

    def step(self) -> bool:
        """Advance one control period; True when the object was re-placed."""
        self._time_left_s -= self.control_period_s
        if self._time_left_s > 0:
            return False
        self.world.place_object(self.rng, anywhere_on_table=True)
        self._time_left_s = self.rng.uniform(*self.every_s)
        return True
