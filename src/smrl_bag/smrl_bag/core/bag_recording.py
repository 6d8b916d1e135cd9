"""A rosbag2 MCAP bag, written with `rosbags`, that stays readable when its recorder is killed.

rosbags writes an MCAP chunk only when it fills (1 MiB), and the file's index, footer and the
bag's metadata.yaml only at close: a recorder killed before that leaves a file no reader opens.
`flush()` closes the pending chunk and ends the file with a provisional Data End + Footer (summary
offset 0, which tells readers to scan the records), flushed to the OS; the next chunk overwrites
that tail. So after SIGKILL the bag's `.mcap` file holds everything up to the last flush and opens
with rosbags (`Reader(<bag>/<name>.mcap)`) or any MCAP reader; a clean `close()` (SIGINT,
SIGTERM) writes the full index and metadata.yaml, as `ros2 bag record` would. A kill during the
one write of a flush can still cut the file: flushes are short and rare (every ~1 s) to keep that
window small. No fsync: the OS keeps a killed process's writes; only a power loss needs it.
"""
from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys.store import Typestore

_MCAP_MAGIC = b"\x89MCAP0\r\n"
# Data End (op 0x0F: data section CRC 0 = not computed), Footer (op 0x02: summary start 0 = no
# summary, summary offset start 0, summary CRC 0), then the closing magic: 50 bytes in all.
_PROVISIONAL_END = (
    struct.pack("<BQI", 0x0F, 4, 0) + struct.pack("<BQQQI", 0x02, 20, 0, 0, 0) + _MCAP_MAGIC
)
ROSBAG2_VERSION = 9  # metadata.yaml format of ROS 2 Jazzy and Kilted


class BagError(Exception):
    """A bag that cannot be written or read: the message names the path and the reason."""


class BagRecording:
    """One new rosbag2 bag folder with one MCAP file; topics are added as their types become known.

    `write` takes the CDR bytes of a message (what a raw rclpy subscription delivers) unchanged.
    """

    def __init__(self, path: Path | str, typestore: Typestore) -> None:
        self.path = Path(path)
        self.typestore = typestore
        try:
            self._writer = Writer(self.path, version=ROSBAG2_VERSION, storage_plugin=StoragePlugin.MCAP)
            self._writer.open()
        except (WriterError, OSError) as error:
            raise BagError(f"{self.path}: {error}") from None
        self._storage = self._writer.storage  # rosbags' McapWriter: its file and pending chunk
        self._connections: dict = {}          # topic -> rosbags Connection
        self.message_counts: Counter = Counter()  # topic -> messages written

    @property
    def mcap_path(self) -> Path:
        return self._storage.path

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Record `topic` of `msgtype` ("sensor_msgs/msg/Image"), its definition embedded in the bag."""
        if msgtype not in self.typestore.fielddefs:
            raise BagError(f"{topic}: type {msgtype} is unknown to the bag's typestore")
        self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        self._writer.write(self._connections[topic], timestamp_ns, data)
        self.message_counts[topic] += 1

    def flush(self) -> None:
        """Put what was written so far into the file, readable as it is if the process dies now."""
        if self._storage.chunk.bio.tell():
            self._storage.close_chunk()
        tail_start = self._storage.bio.tell()
        self._storage.bio.write(_PROVISIONAL_END)
        self._storage.bio.flush()
        self._storage.bio.seek(tail_start)  # the next chunk, or close's summary, replaces the tail

    def close(self) -> None:
        """Write the pending chunk, the MCAP summary and metadata.yaml."""
        self._storage.bio.truncate()  # drop a provisional tail; close writes the real one
        self._writer.close()
