"""Latencies summarised the same way wherever they are reported (node logs, demo summaries)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def latency_summary_ms(latencies_ms: Iterable[float], decimals: int = 1) -> dict[str, float]:
    """Median, 90th percentile and max of latencies in ms, rounded; {} when there are none."""
    latencies = np.asarray(list(latencies_ms), dtype=float)
    if not len(latencies):
        return {}
    return {"median": round(float(np.median(latencies)), decimals),
            "p90": round(float(np.percentile(latencies, 90)), decimals), "max": round(float(latencies.max()), decimals)}
