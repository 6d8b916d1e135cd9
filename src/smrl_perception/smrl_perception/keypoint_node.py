"""The keypoint node: camera images in, learned keypoints out, plus an overlay image and rviz markers.

Contract (docs/architecture.md): `camera/image_raw` and `camera/camera_info` in (sensor-data QoS);
`keypoints` (smrl_msgs/KeypointArray, the image's header, sensor-data QoS) out for every usable
image; `keypoints/overlay` (rgb8, keypoints drawn, upscaled) and `keypoints/markers` (each
keypoint's camera ray and a sphere on it, in the image's frame) only while someone subscribes.

Inference runs in the image callback, and the image subscription keeps one image (sensor-data
QoS, depth 1): when inference is slower than the camera, DDS replaces stale images instead of
queueing them, so keypoints always describe the newest frame. The images skipped so are counted
from the publisher's sequence numbers. (A worker thread fed by the callback cost ~1 ms more per
frame in `./smrl demo`: the hand-over between threads.) Unusable messages are dropped with a
throttled warning and counted per reason in `dropped`.
"""
from __future__ import annotations

from collections import Counter
from copy import copy

import numpy as np
import torch
from geometry_msgs.msg import Point
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.subscription import MessageInfo
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from smrl_common.image_messages import ImageFormatError, image_msg_to_rgb, rgb_to_image_msg
from smrl_common.node_parameters import declare_parameters
from smrl_common.node_runner import run_node
from smrl_msgs.msg import Keypoint, KeypointArray
from smrl_perception.core.camera_rays import checked_intrinsics, points_on_camera_rays
from smrl_perception.core.checkpoint import CheckpointError
from smrl_perception.core.drawing import draw_keypoints, keypoint_colours
from smrl_perception.core.keypoint_detector import DetectedKeypoints, KeypointDetector

PARAMETERS = {
    "checkpoint": ("", "Keypoint model checkpoint (.pt from train_keypoints); empty: the shipped model."),
    "num_threads": (1, "CPU threads torch may use for inference (64 px: about 1.5 ms a frame on one)."),
    "overlay_scale": (4, "Upscaling (nearest neighbour) of keypoints/overlay, so small images stay readable in rviz."),
    "marker_depth_m": (1.5, "Depth along the optical axis (m) of the keypoint spheres on their camera rays."),
}
NEWEST_IMAGE_ONLY = copy(qos_profile_sensor_data)
NEWEST_IMAGE_ONLY.depth = 1
RAY_WIDTH_M = 0.004
SPHERE_DIAMETER_M = 0.04


class KeypointNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__("keypoint_detector", **node_options)
        self.dropped: Counter = Counter()    # reason -> messages dropped; first: destroy_node reports them
        self.published: Counter = Counter()  # full topic name -> messages published
        self.last_image_sequence: dict[bytes, int] = {}  # camera publisher (GID) -> its last image taken
        p = declare_parameters(self, PARAMETERS)
        if p["num_threads"] < 1 or p["overlay_scale"] < 1 or p["marker_depth_m"] <= 0:
            raise ValueError("need num_threads >= 1, overlay_scale >= 1 and marker_depth_m > 0")
        self.p = p
        torch.set_num_threads(p["num_threads"])
        self.detector = KeypointDetector.from_checkpoint(p["checkpoint"])  # CheckpointError names file and reason
        rgb_colours = keypoint_colours(self.detector.num_keypoints)
        self.colours = [ColorRGBA(r=r / 255, g=g / 255, b=b / 255, a=1.0) for r, g, b in rgb_colours]
        self.camera: tuple[np.ndarray, int, int] | None = None  # K (3x3), width, height of the last good camera_info

        self.keypoint_pub = self.create_publisher(KeypointArray, "keypoints", qos_profile_sensor_data)
        self.overlay_pub = self.create_publisher(Image, "keypoints/overlay", qos_profile_sensor_data)
        self.marker_pub = self.create_publisher(MarkerArray, "keypoints/markers", 10)
        self.create_subscription(Image, "camera/image_raw", self.on_image, NEWEST_IMAGE_ONLY)
        self.create_subscription(CameraInfo, "camera/camera_info", self.on_camera_info, qos_profile_sensor_data)
        self.create_timer(10.0, self.report_statistics)
        self.get_logger().info(
            f"{self.detector.num_keypoints} keypoints on {self.detector.image_size} px images, model "
            f"{p['checkpoint'] or 'shipped with smrl_perception'}, {p['num_threads']} thread(s)"
        )

    # --- callbacks --------------------------------------------------------------------------
    def on_image(self, msg: Image, info: MessageInfo) -> None:
        gid = info.get("publisher_gid")  # None where the middleware does not say
        self.count_skipped_images(bytes(gid["data"]) if gid else b"", info.get("publication_sequence_number"))
        try:
            self.process(msg)
        except Exception as error:  # noqa: BLE001 - the node must outlive one bad frame
            if not self.context.ok():
                return  # publishing while the context shuts down: a normal exit
            self.drop(f"processing failed ({type(error).__name__})", str(error), level="error")

    def count_skipped_images(self, publisher: bytes, sequence: int | None) -> None:
        """Images a camera published between the last one taken and this one were replaced in the
        one-image queue while inference ran (or lost on the way): count them as dropped."""
        if sequence is None:
            return
        last, self.last_image_sequence[publisher] = self.last_image_sequence.get(publisher), sequence
        if last is not None and sequence > last + 1:
            self.drop("superseded by a newer image", "inference is slower than the camera", count=sequence - last - 1)

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.camera = (checked_intrinsics(msg.k), msg.width, msg.height)
        except ValueError as error:
            self.drop("unusable camera_info", str(error))

    def process(self, msg: Image) -> None:
        size = self.detector.image_size
        try:
            frame_rgb = image_msg_to_rgb(msg)
        except ImageFormatError as error:
            return self.drop("unreadable image", str(error))
        if frame_rgb.shape[:2] != (size, size):
            return self.drop("wrong image size", f"{msg.width}x{msg.height} px, the model takes {size}x{size}")
        keypoints = self.detector.detect(frame_rgb)
        if not (np.isfinite(keypoints.normalised).all() and np.isfinite(keypoints.intensities).all()):
            return self.drop("non-finite keypoints", "the model gave NaN or inf (broken weights?)")
        self.publish(self.keypoint_pub, self.keypoint_message(msg, keypoints))
        if self.overlay_pub.get_subscription_count():
            overlay = draw_keypoints(frame_rgb, keypoints.pixels, self.p["overlay_scale"])
            self.publish(self.overlay_pub, rgb_to_image_msg(overlay, msg.header))
        if self.marker_pub.get_subscription_count() and self.camera is not None:
            intrinsics, width, height = self.camera
            if (width, height) != (msg.width, msg.height):
                detail = f"{width}x{height} px vs image {msg.width}x{msg.height}"
                return self.drop("camera_info of another size", detail)
            self.publish(self.marker_pub, self.marker_message(msg.header, keypoints, intrinsics))

    # --- messages -----------------------------------------------------------------------------
    @staticmethod
    def keypoint_message(image: Image, keypoints: DetectedKeypoints) -> KeypointArray:
        return KeypointArray(
            header=image.header,
            image_width=image.width,
            image_height=image.height,
            keypoints=[
                Keypoint(u_px=float(u), v_px=float(v), x_norm=float(x), y_norm=float(y), intensity=float(i))
                for (u, v), (x, y), i in zip(keypoints.pixels, keypoints.normalised, keypoints.intensities)
            ],
        )

    def marker_message(self, header: Header, keypoints: DetectedKeypoints, intrinsics: np.ndarray) -> MarkerArray:
        """Each keypoint's ray from the camera and a sphere (opaque as the keypoint is intense) on it."""
        points = [Point(x=x, y=y, z=z) for x, y, z in points_on_camera_rays(
            keypoints.pixels, intrinsics, self.p["marker_depth_m"]).tolist()]
        faded = [ColorRGBA(r=c.r, g=c.g, b=c.b, a=0.25 + 0.75 * float(i))
                 for c, i in zip(self.colours, keypoints.intensities)]
        rays = Marker(header=header, ns="keypoint_rays", id=0, type=Marker.LINE_LIST, action=Marker.ADD)
        rays.points = [p for point in points for p in (Point(), point)]
        rays.colors = [c for colour in self.colours for c in (colour, colour)]
        rays.scale.x = RAY_WIDTH_M
        spheres = Marker(header=header, ns="keypoints", id=0, type=Marker.SPHERE_LIST, action=Marker.ADD,
                         points=points, colors=faded)
        spheres.scale.x = spheres.scale.y = spheres.scale.z = SPHERE_DIAMETER_M
        markers = [rays, spheres]
        for index, (point, colour) in enumerate(zip(points, self.colours)):
            label = Marker(header=header, ns="keypoint_labels", id=index, type=Marker.TEXT_VIEW_FACING,
                           action=Marker.ADD, text=str(index), color=colour)
            label.pose.position = Point(x=point.x, y=point.y - SPHERE_DIAMETER_M, z=point.z)  # y down: above
            label.scale.z = SPHERE_DIAMETER_M
            markers.append(label)
        for marker in markers:
            marker.pose.orientation.w = 1.0
        return MarkerArray(markers=markers)

    # --- bookkeeping --------------------------------------------------------------------------
    def publish(self, publisher, msg) -> None:
        publisher.publish(msg)
        self.published[publisher.topic_name] += 1

    def drop(self, reason: str, detail: str, level: str = "warning", count: int = 1) -> None:
        self.dropped[reason] += count
        log = self.get_logger().error if level == "error" else self.get_logger().warning
        log(f"dropped: {reason}: {detail} (dropped so far: {dict(self.dropped)})", throttle_duration_sec=5.0)

    def report_statistics(self) -> None:
        self.get_logger().info(f"published {dict(self.published)}, dropped {dict(self.dropped)}")

    def destroy_node(self) -> None:
        self.report_statistics()  # the final counts, for whoever reads the log after the run
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    # on_image counts superseded images from the MessageInfo, which the default events executor cannot give
    run_node(KeypointNode, args, model_errors=(CheckpointError,), model_name="the keypoint model",
             executor_class=SingleThreadedExecutor)


if __name__ == "__main__":
    main()
