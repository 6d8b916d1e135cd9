"""Record -> train: the sim and the scripted motion recorded by the recorder, keypoints trained on the bag."""
import math

import numpy as np
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image

from smrl_bag.recorder_node import RecorderNode
from smrl_common.core.bag_types import smrl_typestore
from smrl_perception.core.pair_dataset import load_episodes
from smrl_perception.core.training import TrainConfig, train
from smrl_perception.core.transporter import TransporterConfig
from smrl_sim.scripted_motion_node import ScriptedMotionNode
from smrl_sim.sim_node import SimNode

RECORD_S = 3.0


def test_a_recorded_sim_run_trains_keypoints(tmp_path, ros_context, executor, spin_until):
    import rclpy

    bag_path = tmp_path / "sim_run"
    sim = SimNode(context=ros_context)
    motion = ScriptedMotionNode(context=ros_context, parameter_overrides=[Parameter("pattern", value="babbling")])
    recorder = RecorderNode(context=ros_context, parameter_overrides=[
        Parameter("output", value=str(bag_path)), Parameter("discovery_period_s", value=0.1),
        Parameter("topics", value=["camera/image_raw", "camera/camera_info", "joint_states"])])
    probe = rclpy.create_node("probe", context=ros_context)
    sim_images = {}
    probe.create_subscription(Image, "camera/image_raw",
                              lambda m: sim_images.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), bytes(m.data)),
                              qos_profile_sensor_data)
    for node in (sim, motion, recorder, probe):
        executor.add_node(node)
    bag = recorder.bag
    try:
        assert spin_until(executor, lambda: len(bag.message_counts) == 3, 10.0), recorder.waiting
        spin_until(executor, lambda: False, RECORD_S)
    finally:
        recorder.destroy_node()  # closes the bag: metadata.yaml, as on Ctrl-C
        sim.destroy_node()
    recorded_images = bag.message_counts["/camera/image_raw"]
    assert recorded_images >= RECORD_S * 30 * 0.5, bag.message_counts  # 30 Hz camera, loaded machine

    typestore = smrl_typestore()
    with Reader(bag_path) as reader:
        decoded = [(c.topic, typestore.deserialize_cdr(data, c.msgtype)) for c, _, data in reader.messages()]
    images = [m for topic, m in decoded if topic == "/camera/image_raw"]
    arm = np.array([m.position[:7] for topic, m in decoded if topic == "/joint_states"])
    assert all(bytes(m.data) == sim_images[(m.header.stamp.sec, m.header.stamp.nanosec)]
               for m in images if (m.header.stamp.sec, m.header.stamp.nanosec) in sim_images)
    assert np.ptp(arm, axis=0).max() > 0.05  # the babbling arm moved while recorded

    episodes = load_episodes([bag_path], image_size=64).episodes
    assert len(episodes) == 1 and len(episodes[0].frames_rgb) == recorded_images
    np.testing.assert_array_equal(episodes[0].frames_rgb[0].reshape(-1), images[0].data)
    summary = train(TrainConfig(
        data=[str(bag_path)], out_dir=str(tmp_path / "run"), steps=3, batch_size=4, held_out_fraction=0.0,
        model=TransporterConfig(image_size=64, num_keypoints=4, encoder_widths=(8, 16)), num_threads=1,
        progress_bar=False))
    assert summary.steps == 3 and summary.skipped_messages == {}
    assert math.isfinite(summary.final_record["train_total"]) and (tmp_path / "run" / "checkpoint.pt").is_file()
