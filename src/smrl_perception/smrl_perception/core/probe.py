"""How good are the keypoints? Measured against the simulator's ground truth (evaluation only).

Keypoints and ground truth are both in pixels (u right, v down, pixel (0, 0)'s centre at (0, 0):
convert model centres with `smrl_common.core.pixel_coordinates.normalised_to_pixels`). Three measures:

- a linear probe: can a linear map from the K keypoints recover the end effector, the object and
  each arm link? Cross-validated over whole episodes: each episode is predicted by a map fit on
  other episodes only, so neither neighbouring frames nor an episode's own object pose leak;
- the best single keypoint: the one whose mean distance to a target is smallest (is there a
  keypoint *on* the object, rather than keypoints that merely correlate with it?);
- keypoint placement: how often each keypoint sits on the arm, the object, the distractor arm or
  the background.

Plus a drawing of keypoints on a grid of frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from smrl_perception.core.drawing import draw_keypoints

PLACES = ("arm", "object", "distractor", "background")


@dataclass(frozen=True)
class ProbeScore:
    r2: float              # 1 - residual / total sum of squares over u and v; nan if the target hardly moves
    mean_error_px: float   # mean Euclidean distance between predicted and true point


def ground_truth_points(episode: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Named (T, 2) pixel targets from an episode's `gt_ee_pixel`, `gt_object_pixel`, `gt_link_pixels`."""
    points = {"end_effector": episode["gt_ee_pixel"], "object": episode["gt_object_pixel"]}
    link_pixels = episode["gt_link_pixels"]  # (T, L, 2)
    points.update({f"link_{link}": link_pixels[:, link] for link in range(link_pixels.shape[1])})
    return points


def linear_probe(
    keypoints_px: np.ndarray,
    targets_px: dict[str, np.ndarray],
    episode_ids: np.ndarray,
    folds: int = 4,
    min_spread_px: float = 0.5,
) -> dict[str, ProbeScore]:
    """Score a least-squares map (K keypoints (T, K, 2) + bias -> each (T, 2) target) by
    cross-validation over the episodes in `episode_ids` (T,): episodes are dealt into `folds`
    groups and each group is predicted by the map fit on the others.

    R^2 is about 1 when the target is a linear function of the keypoints and about 0 (or below)
    when they say nothing about it. It is nan for a target whose RMS spread about its mean is below
    `min_spread_px` (e.g. the arm's base links): there is no motion to explain, and R^2 of
    sub-pixel jitter means nothing. Frames where a target is not finite are left out for it.
    Likewise a keypoint coordinate whose spread over the fit frames is below `min_spread_px` (a
    keypoint parked on the background) is left out of that fold's map: least squares would give
    its jitter huge weights, and the map would extrapolate wildly on the scored episodes (R^2 -87
    where the same map without it scored 0.69).
    """
    num_frames = len(keypoints_px)
    episodes = np.unique(episode_ids)
    if len(episodes) < 2:
        raise ValueError(f"{len(episodes)} episode(s): the probe needs at least 2 to fit on one and score another")
    folds = min(folds, len(episodes))
    fold_of_frame = np.searchsorted(episodes, episode_ids) % folds
    coordinates = keypoints_px.reshape(num_frames, -1)
    features = np.hstack([coordinates, np.ones((num_frames, 1))])
    scores = {}
    for name, target in targets_px.items():
        usable = np.isfinite(target).all(axis=1) & np.isfinite(features).all(axis=1)
        predicted = np.full(target.shape, np.nan)
        for fold in range(folds):
            fit, scored = usable & (fold_of_frame != fold), usable & (fold_of_frame == fold)
            if fit.any() and scored.any():
                moving = np.append(coordinates[fit].std(axis=0) >= min_spread_px, True)  # the bias stays
                weights, *_ = np.linalg.lstsq(features[fit][:, moving], target[fit], rcond=None)
                predicted[scored] = features[scored][:, moving] @ weights
        scored = np.isfinite(predicted).all(axis=1)
        residual = ((target[scored] - predicted[scored]) ** 2).sum()
        total = ((target[scored] - target[scored].mean(axis=0)) ** 2).sum()
        moves = total > 0 and np.sqrt(total / scored.sum()) >= min_spread_px
        scores[name] = ProbeScore(
            r2=float(1.0 - residual / total) if moves else float("nan"),
            mean_error_px=float(np.linalg.norm(target[scored] - predicted[scored], axis=1).mean()),
        )
    return scores


def best_single_keypoint(keypoints_px: np.ndarray, target_px: np.ndarray) -> tuple[int, float]:
    """(index, mean distance px) of the keypoint (T, K, 2) closest on average to the target (T, 2)."""
    usable = np.isfinite(target_px).all(axis=1)
    distances = np.linalg.norm(keypoints_px[usable] - target_px[usable, None], axis=-1).mean(axis=0)  # (K,)
    index = int(np.argmin(distances))
    return index, float(distances[index])


def distractor_mask(segmentation: np.ndarray, self_mask: np.ndarray) -> np.ndarray:
    """(T, H, W) pixels of the look-alike distractor arm, from PyBullet's segmentation (T, H, W).

    The datasets do not name the distractor's body, so it is found by what it is: a body seen with
    more than one link (articulated) that is not the agent's own arm. Static scenery (ground,
    table, object) shows a single link. All False when there is no distractor.
    """
    seen = segmentation >= 0
    bodies = np.where(seen, segmentation & 0xFFFFFF, -1)
    links = np.where(seen, segmentation >> 24, -1)
    own_bodies = np.unique(bodies[self_mask])
    mask = np.zeros(segmentation.shape, dtype=bool)
    for body in np.setdiff1d(np.unique(bodies[seen]), own_bodies):
        on_body = bodies == body
        if len(np.unique(links[on_body])) > 1:
            mask |= on_body
    return mask


@dataclass(frozen=True)
class KeypointPlacement:
    """(K,) fraction of frames each keypoint sits on each place; the four sum to 1."""

    on_arm: np.ndarray          # a `gt_self_mask` pixel
    on_object: np.ndarray       # a `gt_object_mask` pixel
    on_distractor: np.ndarray   # a distractor arm pixel (`distractor_mask`)
    on_background: np.ndarray   # anything else

    def fractions(self) -> np.ndarray:
        """(len(PLACES), K) in the order of PLACES."""
        return np.stack([self.on_arm, self.on_object, self.on_distractor, self.on_background])

    def mostly(self) -> np.ndarray:
        """(K,) the place each keypoint sits on most often."""
        return np.array(PLACES)[np.argmax(self.fractions(), axis=0)]

    def straddling(self, low: float = 0.2, high: float = 0.8) -> np.ndarray:
        """Indices of the keypoints on the arm in `low`..`high` of the frames: neither the arm's nor
        anything else's. Beside the look-alike arm, those also on it (`on_distractor` > 0) switch arms."""
        return np.flatnonzero((self.on_arm >= low) & (self.on_arm <= high))

    def counts(self) -> dict[str, int]:
        """How many keypoints are mostly on each place."""
        mostly = self.mostly()
        return {place: int((mostly == place).sum()) for place in PLACES}


def keypoint_placement(
    keypoints_px: np.ndarray,
    self_mask: np.ndarray,
    object_mask: np.ndarray,
    distractor: np.ndarray | None = None,
) -> KeypointPlacement:
    """Where keypoints (T, K, 2) land in the (T, H, W) masks, at their nearest pixel (clipped to the
    image). Overlaps count for the first of arm, object, distractor."""
    num_frames, height, width = self_mask.shape
    columns = np.clip(np.rint(keypoints_px[..., 0]).astype(int), 0, width - 1)  # (T, K)
    rows = np.clip(np.rint(keypoints_px[..., 1]).astype(int), 0, height - 1)
    frames = np.arange(num_frames)[:, None]
    on_arm = self_mask[frames, rows, columns]
    on_object = object_mask[frames, rows, columns] & ~on_arm
    on_distractor = (
        distractor[frames, rows, columns] & ~on_arm & ~on_object if distractor is not None else np.zeros_like(on_arm)
    )
    return KeypointPlacement(
        on_arm=on_arm.mean(axis=0),
        on_object=on_object.mean(axis=0),
        on_distractor=on_distractor.mean(axis=0),
        on_background=(~on_arm & ~on_object & ~on_distractor).mean(axis=0),
    )


def draw_keypoint_grid(frames_rgb: np.ndarray, keypoints_px: np.ndarray, path: Path, scale: int = 4) -> Path:
    """Frames (R, N, H, W, 3) uint8 in R rows of N, upscaled `scale`x, each keypoint (R, N, K, 2)
    drawn as a numbered ring in its own colour; written as PNG."""
    rows = [
        np.concatenate([draw_keypoints(frame, keypoints, scale) for frame, keypoints in zip(*row)], axis=1)
        for row in zip(frames_rgb, keypoints_px)
    ]
    path = Path(path)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, optimize=True)
    return path
