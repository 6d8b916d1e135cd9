"""The rosbags typestore that knows SMRL's messages, for writing and reading rosbag2 bags.

There is no rosbag2 for the embedded (PyPI) ROS 2, so bags are written and read with the
`rosbags` library. It ships ROS 2 Kilted's standard messages but not smrl_msgs, so the smrl_msgs
types are registered from their .msg files. The result serialises to the same CDR bytes as rclpy
(a raw subscription's bytes can go straight into a bag) and gives the same RIHS01 type hashes as
live Kilted publishers, so a bag's metadata is what `ros2 bag` would write.
"""
import os
import sys
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

MSGS_PACKAGE = "smrl_msgs"
# src/smrl_common/smrl_common/core/bag_types.py -> src/smrl_msgs/msg (a source checkout).
_SOURCE_MSG_DIR = Path(__file__).resolve().parents[3] / MSGS_PACKAGE / "msg"


def smrl_msg_dir():
    """The folder of smrl_msgs' .msg files.

    The installed ones come first (share/smrl_msgs/msg under an AMENT_PREFIX_PATH entry, then
    under this interpreter's prefix, which is the install prefix of the embedded route), because
    those are what the running rclpy was generated from; the source tree is the fallback.
    """
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    for prefix in prefixes:
        candidate = Path(prefix) / "share" / MSGS_PACKAGE / "msg"
        if candidate.is_dir():
            return candidate
    if _SOURCE_MSG_DIR.is_dir():
        return _SOURCE_MSG_DIR
    raise FileNotFoundError(
        f"no {MSGS_PACKAGE}/msg/*.msg under share/ of {prefixes} nor in {_SOURCE_MSG_DIR}; "
        "run ./smrl setup (or build smrl_msgs)"
    )


def smrl_typestore(msg_dir=None) -> Typestore:
    """A fresh rosbags Typestore: ROS 2 Kilted's messages plus every smrl_msgs message.

    msg_dir overrides where the .msg files are read from (default: smrl_msg_dir()).
    """
    msg_dir = Path(msg_dir) if msg_dir is not None else smrl_msg_dir()
    types = {}
    for msg_file in sorted(msg_dir.glob("*.msg")):
        types.update(
            get_types_from_msg(msg_file.read_text(), f"{MSGS_PACKAGE}/msg/{msg_file.stem}")
        )
    if not types:
        raise FileNotFoundError(f"no .msg files in {msg_dir}")
    typestore = get_typestore(Stores.ROS2_KILTED)
    typestore.register(types)
    return typestore
