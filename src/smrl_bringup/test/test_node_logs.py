"""Counters read back from the nodes' logs: the last report of each."""
from smrl_bringup.core.node_logs import dropped_messages, labeller_samples, rejected_commands


def test_the_last_reported_counts_are_read_from_each_kind_of_log_line():
    keypoints = ("[WARN] [1.0] [keypoint_detector]: dropped: wrong size: 128x128 px (dropped so far: {'wrong size': 1})\n"
                 "[INFO] [9.0] [keypoint_detector]: published {'/keypoints': 90}, dropped {'wrong size': 7}\n")
    assert dropped_messages(keypoints) == {"wrong size": 7}
    self_model = "[INFO] [1.0] [self_model]: published {}, dropped {}; labeller samples 41, self keypoints [1]\n"
    assert dropped_messages(self_model) == {} and labeller_samples(self_model) == 41
    sim = ("[INFO] [1.0] [sim]: arm commands: 9 accepted, rejected {'nan': 1}\n"
           "[INFO] [2.0] [sim]: arm commands: 9 accepted, rejected {'nan': 2}\n"
           "[INFO] [2.0] [sim]: gripper commands: 3 accepted, rejected {'nan': 1, 'wrong length': 4}\n")
    assert rejected_commands(sim) == {"nan": 3, "wrong length": 4}
    assert dropped_messages("") == {} and rejected_commands("") == {} and labeller_samples("") is None
