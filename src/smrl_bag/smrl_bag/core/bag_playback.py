"""A recorded bag played back at its recorded pace: which messages, in what order, and when.

Messages stay CDR bytes here; decoding, restamping and publishing are the replay node's. The bag
is read again for every pass rather than held in memory, so long bags replay in constant memory.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from rosbags.rosbag2 import Reader, ReaderError

from smrl_bag.core.bag_recording import BagError


@dataclass(frozen=True)
class RecordedMessage:
    topic: str          # as asked for (relative), whatever namespace the bag recorded it in
    msgtype: str        # e.g. "sensor_msgs/msg/Image"
    log_time_ns: int    # when the recorder received it
    offset_s: float     # since the bag's first message
    data: bytes         # CDR, as received


class BagPlayback:
    """The messages of `topics` in a rosbag2 folder or .mcap file, checked when constructed."""

    def __init__(self, path: Path | str, topics: list[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag")
        wanted = {topic.lstrip("/") for topic in topics}
        try:
            with Reader(self.path) as reader:
                in_bag = {c.topic.lstrip("/"): c for c in reader.connections}
                self.start_ns = reader.start_time
        except (ReaderError, OSError) as error:  # rosbags: FileNotFoundError without metadata.yaml
            raise BagError(f"{self.path}: not a readable rosbag2 bag ({error})") from None
        self.msgtypes = {topic: c.msgtype for topic, c in in_bag.items() if topic in wanted}
        self.message_count = sum(c.msgcount for topic, c in in_bag.items() if topic in wanted)
        if not self.message_count:
            raise BagError(f"{self.path}: no messages on {sorted(wanted)} (the bag has {sorted(in_bag)})")

    def _connections(self, reader: Reader) -> list:
        return [c for c in reader.connections if c.topic.lstrip("/") in self.msgtypes]

    def messages(self) -> Iterator[RecordedMessage]:
        """One pass over the bag, in recording order."""
        try:
            with Reader(self.path) as reader:
                for connection, log_time_ns, data in reader.messages(self._connections(reader)):
                    topic = connection.topic.lstrip("/")
                    yield RecordedMessage(topic, connection.msgtype, log_time_ns,
                                          (log_time_ns - self.start_ns) * 1e-9, bytes(data))
        except (ReaderError, OSError) as error:
            raise BagError(f"{self.path}: became unreadable during replay ({error})") from None


def play_at_recorded_pace(playback: BagPlayback, publish: Callable[[RecordedMessage], None],
                          stop: threading.Event, loop: bool = False,
                          on_pass_start: Callable[[], None] = lambda: None) -> int:
    """Call `publish` for each message when its offset has passed since the start of its pass.

    Runs until the bag ends (or, with `loop`, for ever) or `stop` is set; returns the passes begun.
    A publisher slower than the bag falls behind and catches up without sleeping.
    """
    passes = 0
    while not stop.is_set() and (loop or passes == 0):
        passes += 1
        on_pass_start()
        start_s = time.monotonic()
        for message in playback.messages():
            if stop.wait(max(0.0, start_s + message.offset_s - time.monotonic())):
                break
            publish(message)
    return passes
