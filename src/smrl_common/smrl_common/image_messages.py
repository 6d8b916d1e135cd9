"""sensor_msgs/Image <-> numpy without extra copies.

cv_bridge is used where it is installed (a full ROS 2 install); ROS 2 from PyPI has no cv_bridge,
and there the few lines below read the common 8-bit encodings directly from the message buffer.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

try:
    from cv_bridge import CvBridge, CvBridgeError
except ImportError:
    CvBridge = None


class ImageFormatError(ValueError):
    """An image message this code cannot use (encoding, size or data length)."""


_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def rgb_to_image_msg(rgb: np.ndarray, header: Header) -> Image:
    height, width, _ = rgb.shape
    return Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
                 step=width * 3, data=np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """An (H, W, 3) uint8 RGB view of the message's data (copied only when channels must be reordered)."""
    if CvBridge is not None:
        try:
            return CvBridge().imgmsg_to_cv2(msg, desired_encoding="rgb8")
        except (CvBridgeError, TypeError, ValueError) as error:  # cv_bridge raises all three for bad data
            raise ImageFormatError(f"cv_bridge cannot convert this image: {error}") from error
    channels = _CHANNELS.get(msg.encoding)
    if channels is None:
        raise ImageFormatError(f"unsupported encoding {msg.encoding!r}; supported: {sorted(_CHANNELS)}")
    if msg.step < msg.width * channels or len(msg.data) != msg.step * msg.height:
        raise ImageFormatError(
            f"data length {len(msg.data)} does not match {msg.height} rows of step {msg.step} for "
            f"{msg.width} px of {msg.encoding}")
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    pixels = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
    if msg.encoding == "rgb8":
        return pixels
    if msg.encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if msg.encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])
