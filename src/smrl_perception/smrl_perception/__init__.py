"""Unsupervised keypoints from camera images (Transporter, Kulkarni et al. 2019) and the keypoint node."""
