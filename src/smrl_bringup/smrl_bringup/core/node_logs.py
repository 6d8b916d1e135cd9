"""Counters the nodes log, read back from their log files after a run.

The nodes count what they drop (and the sim what commands it rejects) and log the counts every
10 s and once more when they stop; in separate processes the log is where a supervisor finds
them, without a ROS interface of its own. Each function returns the last count a log reports.
"""
from __future__ import annotations

import ast
import re

DROPPED = re.compile(r"dropped(?: so far:)? (\{[^{}]*\})")       # keypoint, self model, scripted motion
REJECTED = re.compile(r"(\w+) commands: \d+ accepted, rejected (\{[^{}]*\})")  # sim, per controller
LABELLER_SAMPLES = re.compile(r"labeller samples (\d+)")           # self model
HOLDS = re.compile(r"\d+ commands, holds (\{[^{}]*\})")          # policy


def dropped_messages(log_text: str) -> dict[str, int]:
    """reason -> messages dropped, as last logged; {} when the node never reported any."""
    found = DROPPED.findall(log_text)
    return ast.literal_eval(found[-1]) if found else {}


def rejected_commands(log_text: str) -> dict[str, int]:
    """reason -> commands rejected, the last report of each controller summed."""
    last_by_controller = {controller: ast.literal_eval(counts) for controller, counts in REJECTED.findall(log_text)}
    total: dict[str, int] = {}
    for counts in last_by_controller.values():
        for reason, count in counts.items():
            total[reason] = total.get(reason, 0) + count
    return total


def held_commands(log_text: str) -> dict[str, int]:
    """reason -> control ticks the policy node held the arm instead of acting, as last logged."""
    found = HOLDS.findall(log_text)
    return ast.literal_eval(found[-1]) if found else {}


def labeller_samples(log_text: str) -> int | None:
    found = LABELLER_SAMPLES.findall(log_text)
    return int(found[-1]) if found else None
