"""Checks on the joint names of a message, shared by every node that reads or sends joint values."""
from __future__ import annotations

from collections import Counter
from typing import Sequence


def duplicate_names(names: Sequence[str]) -> list[str]:
    """The joint names given more than once, sorted: which value such a message means is a guess."""
    return sorted(name for name, count in Counter(names).items() if count > 1)
