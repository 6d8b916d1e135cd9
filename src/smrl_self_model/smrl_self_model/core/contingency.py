"""Which keypoints are the agent itself: labelling by contingency with its own joint motion.

A keypoint is *self* when the agent's own joint motion predicts its image motion, on samples the
predictor never saw. Nothing else is used: no masks, no labels, no colours.

Samples. Each time the measured joints have moved `min_joint_step_rad` (L2 over the joints) since
the last sample, the labeller takes one: the joint step dq = q_t - q_s and every keypoint's
displacement dc = c_t - c_s over the same frames (s = the previous sample's frame). A still arm
makes no samples, so the jitter of a still scene is never evidence; and the evidence does not
depend on the camera rate (at 30 Hz a sample spans about three frames, at 10 Hz about one, and a
body point's motion over it stands well above the detector's jitter and the tug of other moving
things). The last `window_samples` samples are kept. The joint
targets are not used: the measured motion is what moves the body, and the commands differ from it
whenever the controller lags or the arm is blocked (as when it pushes something).

Predictors. A point on the arm moves as dc = J(q) dq. Per keypoint, three ridge regressions of
dc (2,): on dq alone (a constant Jacobian: n = 7 features, good after ~100 samples and over a small
workspace); on dq (x) [1, sin q, cos q] (a Jacobian varying with the configuration to first order,
q = the step's mid-point: n (1 + 2n) = 105 features, for small steps over a wide workspace); and on
f(q_t) - f(q_s), f = sin q, cos q and their pairwise products (the keypoint's position as a smooth
function of the joints, exact for steps of any size: 2n + 2n (2n - 1) / 2 = 105 features). The last
fits a learned keypoint best: it slides along the links as the arm turns, rather than riding on one
body point, and the samples' 0.3 rad steps are large (on the Panda datasets, held-out R2 ~0.1 above
the varying Jacobian's). The keypoint's score is the best of the three held-out scores: model
selection by cross-validation, whose optimism with three candidates is negligible.

Robustness. A detector jump (the keypoint lands elsewhere for a frame) looks like a huge motion.
Jumps are trimmed before scoring: fit the constant-Jacobian predictor, drop the samples whose
residual exceeds `trim_factor` times the keypoint's median residual (plus `trim_allowance`), refit
on the rest, repeat. Jumps are 10-100x a body point's residual, so they go; its own samples stay.
All predictors are then scored on the same kept samples.

Score. R2 = 1 - SSE_held_out / sum |dc|^2 over the kept samples, by k-fold cross-validation over
blocks of consecutive samples, times the fraction of samples kept. The product is the held-out
explained motion when each trimmed sample counts as unexplained motion of the keypoint's average
size: trimming bounds what a jump costs, but never makes motion look explained. The null model is
"it does not move" (no intercept, no centring). 105 features fitted to a few hundred samples of an
unrelated motion give a positive in-sample R2 by chance; held out, it is <= 0. Scores are clipped
to [0, 1]. No model of the arm is needed; body_schema.py learns one afterwards from the keypoints
labelled self.

Label rule, per keypoint (thresholds in `ContingencyConfig`, with why):
  unknown  fewer than `min_evidence_samples` kept samples;
  world    its RMS displacement per kept sample is below `min_motion_rms` (it stayed put while the
           arm moved: static background; R2 would be 0/0), or score < `self_threshold`;
  self     score >= `self_threshold`.

Label rule, per keypoint and frame (`frame_labels`, `judge_frames`): a keypoint can follow the
agent's arm in some frames and another body in others (two look-alike arms that overlap in the
image), so a per-keypoint label is wrong for part of its frames. In each frame a keypoint is self
when its motion follows the joints at all (score >= `frame_min_score`) and it is now where its
position model (position_model.py, fitted on the kept samples' end frames) puts it, at one of
the places on the body it rides on, for this frame's joint state; world otherwise; unknown while
its per-keypoint label is.

Why the traps fail:
  - contact: an object the arm moves in a fraction p of the samples, still in the others, scores
    about p or less. Least squares over all samples predicts p times the push everywhere (error
    p(1 - p), motion p, of the push's power: R2 = p); when p < 1/2, trimming drops the pushes as
    unexplained and the kept fraction counts them against the score. Pushing aside rather than
    carrying is less predictable still. So an object stays world unless the arm carries it in most
    samples, when it is, like a held tool, part of the body for this purpose (on the synthetic arm:
    carried in 40% of the samples, score ~0; 60%, ~0.6; 80%, ~0.8).
  - distractor arm: driven by joints the agent does not see: R2 ~ 0 held out.
  - still arm: no samples; labels stay unknown, or as they were.
  - detector jumps: trimmed, see above.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from smrl_self_model.core.joint_features import ridge_solve, trigonometric_features
from smrl_self_model.core.model_file import ModelFileError, load_model_file, save_model_file
from smrl_self_model.core.position_model import PositionModel, fit_position_model

# Label values of smrl_msgs/SelfModelState.
LABEL_UNKNOWN = 0
LABEL_SELF = 1
LABEL_WORLD = 2

EVIDENCE_FORMAT, EVIDENCE_FORMAT_VERSION = "smrl_self_evidence", 1
_EVIDENCE_ARRAYS = ("start_joints", "end_joints", "displacements", "end_centers", "usable", "sample_index")


@dataclass(frozen=True)
class ContingencyConfig:
    min_joint_step_rad: float = 0.3
    """Joint motion (L2 over the joints) per sample, ~17 deg: about one 10 Hz frame of babbling
    (~3 rad/s), three at the camera's 30 Hz. The step must be large next to what moves a keypoint
    besides the agent: detector jitter, and the look-alike arm's tug on keypoints beside it. With
    0.1 rad, 30 Hz samples span one or two frames and keypoints on the arm beside the look-alike one
    scored 0.33-0.37 (10 Hz: 0.55-0.58), below the threshold, so live the arm was never found; with
    0.3 the two rates agree (evaluate-self-model's distractor and distractor_30hz scenes). The
    trigonometric predictor is exact for steps of any size, so larger steps cost only samples."""
    window_samples: int = 1500
    """Samples kept (~3.5 min of the demo's babbling, ~7 samples/s): plenty for 105 features, and
    labels follow slow changes (a tool held for minutes becomes self, and world again when put down)."""
    min_evidence_samples: int = 150
    """Kept samples before a label: from ~100 the constant-Jacobian R2 of body points is clear of
    the threshold on the synthetic arm (0.65-0.8, others < 0.1); before that, LABEL_UNKNOWN."""
    self_threshold: float = 0.125
    """Score from which a keypoint is self: the best of `evaluate-self-model`'s sweep on the train
    episodes of all eight scenes (both arms) with the shipped keypoint models of 2026-12-01 (round
    3; the worst scene's min(precision, recall) 0.50 at 0.125, 0.00 at the round-1 models' 0.425).
    With them the Panda's arm keypoints score 0.31-0.75 alone but 0.08-0.60 beside the look-alike
    arm, whose motion tugs at them; the object's keypoint 0.01-0.02. On the synthetic arm: body
    points 0.7-0.9, a pushed object and a distractor ~0."""
    min_motion_rms: float = 0.005
    """RMS displacement per sample (normalised; 0.16 px at 64 px) below which a keypoint did not
    move while the arm did: static background, world."""
    num_folds: int = 5
    fold_block_samples: int = 10
    """Consecutive samples share a fold, so held-out samples are not next to training samples
    (babbling holds a target for several frames)."""
    ridge: float = 0.03
    """Ridge penalty relative to the mean feature power: keeps 105 features well posed with few
    samples. On a few hundred samples (the held-out episodes alone) 1e-3 overfit: held-out scores of
    keypoints on the arm beside the look-alike arm were 0.43-0.48, and 0.54-0.61 with 0.03. On a
    full window it changes the scores by ~0.01."""
    trim_factor: float = 8.0
    """Residuals above trim_factor x the keypoint's median residual are jumps, not motion (jumps
    are 10-100x). Not lower: a learned keypoint's residuals are heavy-tailed (it slides along the
    links; the look-alike arm tugs at it by a few pixels), and at 4x its genuine motion was
    trimmed, taking ~0.15 off the scores of keypoints on the arm beside the look-alike one
    (train episodes)."""
    trim_allowance: float = 0.01
    """Residual (normalised; 0.3 px at 64 px) never trimmed, for keypoints whose median residual is
    ~0 (a static point without jitter)."""
    trim_iterations: int = 3
    """Fit-and-trim rounds: the first fit is pulled by the jumps, the next ones are not."""
    min_intensity: float = 0.0
    """Keypoints reported with a lower intensity (e.g. occluded) at either end of a sample are
    left out of it. 0 uses every keypoint."""
    position_inlier_radius: float = 0.1
    """Position model fit (position_model.py): frames within this distance (normalised; 3.2 px at
    64 px) of the robust fit are the ones it is finally refitted on."""
    position_ridge: float = 0.003
    """Ridge of the position model, relative as `ridge`. Lower than the labeller's: positions are
    fitted on many more samples than features. On the synthetic world (800 samples) 0.003 kept 96 %
    of the arm's keypoint-frames within `frame_self_radius` and told the arm-switching keypoint's
    frames apart 99.6 % right; 0.03: 90 % and 85 %."""
    position_feature_order: int = 2
    """Products of up to this many of sin q, cos q in the position model. Order 3 (470 features)
    fitted the Panda's keypoints closer (90 % of errors below 1.7-2.4 px against 2.4-2.7 px) but
    took ~10x longer and found the switching keypoint's mode less reliably (60-87 % right)."""
    position_places: int = 2
    """Body places per keypoint in the position model (position_model.py): a keypoint that rides
    on two links (a third of its frames on the second) was called world there, judged by one.
    Validation episodes (the round-4 keypoints): per keypoint-frame precision / recall 0.967 /
    0.929 -> 0.958 / 0.954 in plain and 0.968 / 0.924 -> 0.967 / 0.951 with pushes; beside the
    look-alike arm (0.922 / 0.872) and carrying (0.926 / 0.998) unchanged."""
    position_place_min_inliers: float = 0.6
    """A further place is accepted when this fraction of the frames it is fitted on lie within
    `position_inlier_radius` of it. Validation (the round-4 keypoints): 0.66-0.89 for second
    places on the agent's arm; 0.34-0.48 for the frames a keypoint spends on the look-alike arm,
    0.46-0.53 on a pushed cube. 0.5 would have accepted the cube's."""
    position_samples: int = 800
    """The newest kept samples the position model is fitted on (a fit takes ~0.2-0.5 s with 800,
    8 keypoints, one core: too long for every refresh)."""
    position_refit_samples: int = 100
    """New samples after which a refresh refits the position model (~15 s of babbling)."""
    online_refresh_fraction: float = 0.02
    """A background (node) refresh starts once the new samples are this fraction of the kept ones:
    every ~3 samples at `min_evidence_samples`, every 30 with a full window (~5 s of the demo). A
    refresh costs in proportion to the kept samples, so this keeps its CPU per sample flat: with a
    full window, refreshing at every 0.5 s timer tick took a third of a core (measured in `./smrl
    demo`) for labels that 3 new samples of 1500 barely move."""
    frame_self_radius: float = 0.2
    """Per-frame judgement (`frame_labels`): a keypoint is self in a frame when it is within this
    distance (normalised; 6.4 px at 64 px) of where its position model puts it for the joint state
    of that frame. The best of evaluate-self-model's sweep on validation episodes (the last 12 train
    episodes of every scene, both arms), with the round-1 keypoint models and again with round 3's
    (2026-12-01: worst scene's min(precision, recall) 0.675). That sweep's radii ended at 0.2; over
    radii to 0.32, with the 3000-step keypoint model, 0.26 with frame_min_score 0.1 is best (0.709
    against 0.693 for these values), not adopted yet: it changes the per-frame labels the shipped
    self-model policies were trained on (the self model README)."""
    frame_min_score: float = 0.05
    """Per-frame judgement: only keypoints whose motion the joints explain at least this much
    (labeller score) can be self in any frame; the position model then decides frame by frame.
    The best of the same validation sweep (0.05-0.5) with round 3's keypoint models (0.25 with
    round 1's): their arm keypoints score as low as 0.08 beside the look-alike arm."""


def varying_jacobian_features(start_rad: np.ndarray, end_rad: np.ndarray) -> np.ndarray:
    """(N, n) joint positions at both ends of N samples -> (N, n (1 + 2n)): dq (x) [1, sin q, cos q]
    at the mid-point q, a Jacobian that varies with q to first order. Every (1 + 2n)-th feature,
    from the first, is dq itself: the constant-Jacobian predictor's."""
    middle = (start_rad + end_rad) / 2
    basis = np.concatenate([np.ones((len(middle), 1)), np.sin(middle), np.cos(middle)], axis=1)
    return ((end_rad - start_rad)[:, :, None] * basis[:, None, :]).reshape(len(middle), -1)


class ContingencyLabeller:
    """Online self/world labelling of K keypoints from their centres and the n joint positions.

    Call `update` once per camera frame and `refresh` now and then; read `labels` (K,) uint8 and
    `scores` (K,) in [0, 1], and `frame_labels` of a frame. `background`: refreshes run in a
    thread of its own, amortised (see `refresh`), so a node's callbacks are not held up; otherwise
    each refresh is done in place on every sample so far, as evaluation wants.
    """

    def __init__(self, num_keypoints: int, num_joints: int, config: ContingencyConfig | None = None,
                 background: bool = False) -> None:
        self.config = config or ContingencyConfig()
        self.num_keypoints = num_keypoints
        self.num_joints = num_joints
        window = self.config.window_samples
        self._start_joints = np.zeros((window, num_joints))  # q_s of each sample, rad
        self._end_joints = np.zeros((window, num_joints))    # q_t
        self._displacements = np.zeros((window, num_keypoints, 2))
        self._end_centers = np.zeros((window, num_keypoints, 2))
        self._usable = np.zeros((window, num_keypoints), dtype=bool)
        self._sample_index = np.zeros(window, dtype=np.int64)
        self._num_samples = 0
        self._anchor: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # centres, intensities, q
        self._refreshed_at_sample = 0
        self._labels = np.full(num_keypoints, LABEL_UNKNOWN, dtype=np.uint8)
        self._scores = np.zeros(num_keypoints)
        self._evidence = np.zeros(num_keypoints, dtype=np.int64)
        self._position_model: PositionModel | None = None
        self._position_fitted_at_sample = 0
        self._judging: Future[Judgement] | None = None
        self._background = ThreadPoolExecutor(max_workers=1) if background else None

    @property
    def labels(self) -> np.ndarray:
        """(K,) uint8: LABEL_UNKNOWN, LABEL_SELF or LABEL_WORLD, as of the last `refresh()`."""
        return self._labels.copy()

    @property
    def scores(self) -> np.ndarray:
        """(K,) in [0, 1]: held-out explained motion, 0 for keypoints that did not move (last `refresh()`)."""
        return self._scores.copy()

    @property
    def evidence_samples(self) -> np.ndarray:
        """(K,) samples each label rests on (jumps and low-intensity samples left out; last `refresh()`)."""
        return self._evidence.copy()

    @property
    def num_samples(self) -> int:
        """Samples taken so far (the window keeps the last `window_samples`)."""
        return self._num_samples

    def start_episode(self) -> None:
        """Forget the last frame (after a reset the scene jumps): the next frame starts a new sample."""
        self._anchor = None

    def update_episode(self, centers: np.ndarray, intensities: np.ndarray, joint_positions_rad: np.ndarray) -> None:
        """Add a whole episode: centres (T, K, 2), intensities (T, K), joints (T, n); no sample spans
        it and the frames before it."""
        self.start_episode()
        for frame in zip(centers, intensities, joint_positions_rad, strict=True):
            self.update(*frame)

    def update(self, centers: np.ndarray, intensities: np.ndarray, joint_positions_rad: np.ndarray) -> None:
        """Add one frame: centres (K, 2) normalised, intensities (K,), joint positions (n,) rad."""
        centers = np.asarray(centers, dtype=np.float64)
        intensities = np.asarray(intensities, dtype=np.float64)
        joint_positions_rad = np.asarray(joint_positions_rad, dtype=np.float64)
        if centers.shape != (self.num_keypoints, 2) or intensities.shape != (self.num_keypoints,):
            raise ValueError(f"expected centers ({self.num_keypoints}, 2) and intensities ({self.num_keypoints},), "
                             f"got {centers.shape} and {intensities.shape}")
        if joint_positions_rad.shape != (self.num_joints,):
            raise ValueError(f"expected {self.num_joints} joint positions, got shape {joint_positions_rad.shape}")
        if self._anchor is None:
            self._anchor = (centers, intensities, joint_positions_rad)
            return
        anchor_centers, anchor_intensities, anchor_joints = self._anchor
        joint_step = joint_positions_rad - anchor_joints
        if np.linalg.norm(joint_step) < self.config.min_joint_step_rad:
            return  # not enough of the agent's own motion yet: no evidence either way
        self._anchor = (centers, intensities, joint_positions_rad)
        slot = self._num_samples % self.config.window_samples
        self._start_joints[slot], self._end_joints[slot] = anchor_joints, joint_positions_rad
        self._displacements[slot] = centers - anchor_centers
        self._end_centers[slot] = centers
        self._usable[slot] = np.minimum(intensities, anchor_intensities) >= self.config.min_intensity
        self._sample_index[slot] = self._num_samples
        self._num_samples += 1

    def refresh(self) -> None:
        """Recompute scores, labels and (every `position_refit_samples`) the position model from the
        kept samples; nothing to do when none came since.

        Separate from `update` because it costs ~0.1-0.2 s with a full window (8 keypoints, one
        core; a position fit 0.2-0.5 s more) and an update ~20 us. In the `background` mode a node
        uses, the work runs in a thread of its own on a copy of the samples and a later refresh
        adopts its result, so frames are never held up; and it starts only once the new samples
        are `online_refresh_fraction` of the kept ones, so its cost per sample stays flat as the
        window fills (a refresh per ~30 samples with a full window, not one per timer tick).
        """
        if self._judging is not None:
            if not self._judging.done():
                return
            judging, self._judging = self._judging, None
            self._adopt(judging.result())  # a failed judgement raises here, once; the next refresh starts anew
        new_samples = self._num_samples - self._refreshed_at_sample
        filled = min(self._num_samples, self.config.window_samples)
        if new_samples == 0 or (self._background is not None
                                and new_samples < self.config.online_refresh_fraction * filled):
            return
        evidence = self._kept_evidence()
        fit_position = self._position_model is None or \
            self._num_samples - self._position_fitted_at_sample >= self.config.position_refit_samples
        self._refreshed_at_sample = self._num_samples
        if fit_position:
            self._position_fitted_at_sample = self._num_samples
        if self._background is None:
            self._adopt(judge_evidence(evidence, self.config, fit_position))
        else:
            self._judging = self._background.submit(judge_evidence, evidence, self.config, fit_position)

    def _kept_evidence(self) -> Evidence:
        """A copy of the kept samples (a background judgement must not see later updates)."""
        filled = min(self._num_samples, self.config.window_samples)
        return Evidence(self._start_joints[:filled].copy(), self._end_joints[:filled].copy(),
                        self._displacements[:filled].copy(), self._end_centers[:filled].copy(),
                        self._usable[:filled].copy(), self._sample_index[:filled].copy())

    def _adopt(self, judgement: Judgement) -> None:
        self._scores, self._labels, self._evidence = judgement.scores, judgement.labels, judgement.evidence
        if judgement.position_model is not None:
            self._position_model = judgement.position_model

    def save_evidence(self, path: Path | str, keypoint_model_sha256: str = "", source: str = "") -> Path:
        """Write the kept samples, oldest first: what the labels rest on. A node started from them
        (`from_evidence`) knows its body at once instead of after ~20 s of babbling, and labels
        frames as the labeller that produced them did (the policies are trained on such labels)."""
        kept = np.argsort(self._sample_index[:min(self._num_samples, self.config.window_samples)])
        arrays = {"start_joints": self._start_joints, "end_joints": self._end_joints,
                  "displacements": self._displacements, "end_centers": self._end_centers,
                  "usable": self._usable, "sample_index": self._sample_index}
        metadata = {"num_keypoints": self.num_keypoints, "num_joints": self.num_joints,
                    "num_samples": self._num_samples, "keypoint_model_sha256": keypoint_model_sha256,
                    "source": source}
        return save_model_file(path, EVIDENCE_FORMAT, EVIDENCE_FORMAT_VERSION, metadata,
                               {name: torch.from_numpy(np.ascontiguousarray(arrays[name][kept])) for name in arrays})

    @classmethod
    def from_evidence(cls, path: Path | str, config: ContingencyConfig | None = None,
                      background: bool = False) -> tuple[ContingencyLabeller, dict]:
        """A labeller holding the samples of an evidence file (the newest `window_samples` of them),
        refreshed: labels and position model ready. Returns it and the file's metadata; a missing,
        foreign or inconsistent file raises ModelFileError."""
        metadata, arrays = load_model_file(path, EVIDENCE_FORMAT, EVIDENCE_FORMAT_VERSION)
        try:
            labeller = cls(int(metadata["num_keypoints"]), int(metadata["num_joints"]), config)
            count = len(arrays["sample_index"])
            kept = slice(max(0, count - labeller.config.window_samples), count)
            for name in _EVIDENCE_ARRAYS:
                getattr(labeller, f"_{name}")[:kept.stop - kept.start] = arrays[name][kept].numpy()
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(path, f"samples or metadata do not fit a contingency labeller ({error})") from None
        stored = labeller._sample_index[:kept.stop - kept.start]
        labeller._sample_index[:len(stored)] = stored - stored.min(initial=0)  # folds stay blocks of consecutive samples
        labeller._num_samples = kept.stop - kept.start
        labeller.refresh()  # here, not in the background: the labels are ready when this returns
        if background:
            labeller._background = ThreadPoolExecutor(max_workers=1)
        return labeller, metadata

    @property
    def position_model(self) -> PositionModel | None:
        """Where each keypoint would be for a joint state if it rode on the body (last `refresh()`)."""
        return self._position_model

    def frame_labels(self, centers: np.ndarray, joint_positions_rad: np.ndarray) -> np.ndarray:
        """(K,) uint8 labels of the keypoints in one frame (`judge_frames`): centres (K, 2)
        normalised, joints (n,) rad, with the position model and scores of the last `refresh()`.
        Before the first position model (no refresh yet, or its fit still running): the
        per-keypoint labels."""
        if self._position_model is None:
            return self._labels.copy()
        distances = self._position_model.distances(np.asarray(centers)[None], np.asarray(joint_positions_rad)[None])
        return judge_frames(distances, self._scores, self._labels, self.config)[0]


@dataclass(frozen=True)
class Evidence:
    """The kept samples (arrays as `ContingencyLabeller` keeps them, the filled part)."""
    start_joints: np.ndarray   # (N, n) q_s, rad
    end_joints: np.ndarray     # (N, n) q_t
    displacements: np.ndarray  # (N, K, 2)
    end_centers: np.ndarray    # (N, K, 2)
    usable: np.ndarray         # (N, K) bool
    sample_index: np.ndarray   # (N,) order in which they came


@dataclass(frozen=True)
class Judgement:
    """What a refresh concludes from the evidence; `position_model` None: not refitted this time."""
    scores: np.ndarray         # (K,)
    labels: np.ndarray         # (K,) uint8
    evidence: np.ndarray       # (K,) kept samples each label rests on
    position_model: PositionModel | None


def judge_evidence(evidence: Evidence, config: ContingencyConfig, fit_position: bool) -> Judgement:
    """Scores and labels of the keypoints from their samples (the module docstring's rule), and the
    position model fitted on the newest `position_samples` when `fit_position`."""
    folds = (evidence.sample_index // config.fold_block_samples) % config.num_folds
    start, end = evidence.start_joints, evidence.end_joints
    displacements, usable = evidence.displacements, evidence.usable
    constant_jacobian = end - start
    kept = trim_jumps(constant_jacobian, displacements, usable, config)
    predictors = (constant_jacobian, varying_jacobian_features(start, end),
                  trigonometric_features(end) - trigonometric_features(start))
    explained = np.max([held_out_explained_motion(features, displacements, kept, folds, config)
                        for features in predictors], axis=0)
    explained *= kept.sum(axis=0) / np.maximum(usable.sum(axis=0), 1)  # trimmed samples count as unexplained
    kept_samples = kept.sum(axis=0)
    kept_power = np.einsum("nk,nkc->k", kept, displacements**2)
    moved = np.sqrt(kept_power / np.maximum(kept_samples, 1)) >= config.min_motion_rms
    scores = np.where(moved, np.clip(explained, 0.0, 1.0), 0.0)
    labels = np.where(moved & (explained >= config.self_threshold), LABEL_SELF, LABEL_WORLD).astype(np.uint8)
    labels[kept_samples < config.min_evidence_samples] = LABEL_UNKNOWN
    position_model = None
    if fit_position:
        newest = np.argsort(evidence.sample_index)[-config.position_samples:]
        position_model = fit_position_model(end[newest], evidence.end_centers[newest], usable[newest],
                                            config.position_inlier_radius, config.position_ridge,
                                            config.position_feature_order, config.position_places,
                                            config.position_place_min_inliers)
    return Judgement(scores, labels, kept_samples, position_model)


def judge_frames(distances: np.ndarray, scores: np.ndarray, keypoint_labels: np.ndarray,
                 config: ContingencyConfig) -> np.ndarray:
    """Per keypoint and frame, self / world / unknown: (N, K) uint8.

    distances (N, K): normalised, from each keypoint to where its position model puts it for the
    frame's joint state; scores, keypoint_labels (K,) or (N, K): the labeller's. Self: the keypoint's motion
    follows the joints (score >= `frame_min_score`) and it is within `frame_self_radius` of its
    body place now. World: otherwise. Unknown: where the keypoint's own label is unknown.
    """
    labels = np.where((np.asarray(scores) >= config.frame_min_score) & (distances <= config.frame_self_radius),
                      LABEL_SELF, LABEL_WORLD).astype(np.uint8)
    labels[np.broadcast_to(np.asarray(keypoint_labels) == LABEL_UNKNOWN, labels.shape)] = LABEL_UNKNOWN
    return labels


def trim_jumps(features: np.ndarray, displacements: np.ndarray, usable: np.ndarray,
               config: ContingencyConfig) -> np.ndarray:
    """(N, K) bool: the usable samples that are not detector jumps, by iterative trimming.

    features (N, F), displacements (N, K, 2), usable (N, K) bool. Fit, drop samples whose residual
    exceeds trim_factor x the keypoint's median residual + trim_allowance, refit from the rest.
    Run with the constant-Jacobian features: its misfit is small next to a jump, and it is cheap.
    """
    phi = torch.from_numpy(np.ascontiguousarray(features))
    motion = torch.from_numpy(displacements).transpose(0, 1)  # (K, N, 2)
    usable = torch.from_numpy(usable).T                       # (K, N)
    kept = usable
    for _ in range(config.trim_iterations):
        weighted_phi = kept[..., None] * phi                                            # (K, N, F)
        coefficients = ridge_solve(weighted_phi.transpose(1, 2) @ phi, weighted_phi.transpose(1, 2) @ motion,
                                    config.ridge)                                       # (K, F, 2)
        residual = (motion - phi @ coefficients).norm(dim=-1)                           # (K, N)
        median = torch.where(usable, residual, torch.nan).nanmedian(dim=1).values.nan_to_num(0.0)
        kept = usable & (residual <= config.trim_factor * median[:, None] + config.trim_allowance)
    return kept.T.numpy()


def held_out_explained_motion(features: np.ndarray, displacements: np.ndarray, kept: np.ndarray,
                              folds: np.ndarray, config: ContingencyConfig) -> np.ndarray:
    """(K,) held-out R2 of each keypoint's kept displacements given the joint motion features
    (-inf .. 1; 0 where nothing moved), by k-fold cross-validation.

    features (N, F), displacements (N, K, 2), kept (N, K) bool, folds (N,) in [0, num_folds).
    For fold f, the ridge fit W on the other folds has the held-out error
    sum |dc - W^T phi|^2 = power_f - 2 <W, cross_f> + <W, gram_f W>, from the fold's sums.
    Runs in torch, whose thread count the caller sets: numpy's OpenBLAS threads thrash on a busy
    machine (these solves took 1.4 s instead of 16 ms).
    """
    phi = torch.from_numpy(np.ascontiguousarray(features))
    motion = torch.from_numpy(displacements).transpose(0, 1)  # (K, N, 2)
    kept = torch.from_numpy(kept).T                           # (K, N)
    fold_masks = [torch.from_numpy(folds == f) for f in range(config.num_folds)]
    gram, cross, power = _fold_statistics(phi, motion, kept, fold_masks)
    coefficients = ridge_solve(gram.sum(dim=1, keepdim=True) - gram, cross.sum(dim=1, keepdim=True) - cross,
                                config.ridge)  # per fold, fitted on the other folds
    held_out_error = (power - 2.0 * (coefficients * cross).sum(dim=(-2, -1))
                      + (coefficients * (gram @ coefficients)).sum(dim=(-2, -1))).clamp(min=0.0).sum(dim=1)
    total_power = power.sum(dim=1)
    return torch.where(total_power > 0, 1.0 - held_out_error / total_power.clamp(min=1e-300), 0.0).numpy()


def _fold_statistics(phi: torch.Tensor, motion: torch.Tensor, kept: torch.Tensor,
                     fold_masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per keypoint and fold, sums over its kept samples: phi phi^T (K, folds, F, F), phi dc^T
    (K, folds, F, 2) and |dc|^2 (K, folds).

    A keypoint's Gram matrix is the fold's shared one minus its few left-out samples (or, when it
    keeps fewer than it leaves out, the sum over the kept ones), not a product over all samples for
    every keypoint: the Gram matrices are most of a refresh's cost.
    """
    num_keypoints, num_features = kept.shape[0], phi.shape[1]
    grams = torch.empty(num_keypoints, len(fold_masks), num_features, num_features, dtype=phi.dtype)
    crosses, powers = [], []
    for f, mask in enumerate(fold_masks):
        fold_phi, fold_kept, fold_motion = phi[mask], kept[:, mask], motion[:, mask]
        shared = fold_phi.T @ fold_phi
        for k in range(num_keypoints):
            if 2 * fold_kept[k].sum() >= len(fold_phi):
                left_out = fold_phi[~fold_kept[k]]
                grams[k, f] = shared - left_out.T @ left_out
            else:
                grams[k, f] = fold_phi[fold_kept[k]].T @ fold_phi[fold_kept[k]]
        kept_motion = fold_kept[..., None] * fold_motion  # (K, N_f, 2)
        crosses.append(fold_phi.T @ kept_motion)
        powers.append(kept_motion.square().sum(dim=(1, 2)))
    return grams, torch.stack(crosses, dim=1), torch.stack(powers, dim=1)


def label_episodes(centers: list[np.ndarray], intensities: list[np.ndarray], joint_positions_rad: list[np.ndarray],
                   config: ContingencyConfig | None = None) -> ContingencyLabeller:
    """Label over whole episodes: per episode, centres (T, K, 2), intensities (T, K), joints (T, n).

    Evidence accumulates over the episodes; no sample spans two of them. Returns the labeller after
    the last frame, refreshed: its `labels` and `scores` are final.
    """
    labeller = ContingencyLabeller(np.shape(centers[0])[1], np.shape(joint_positions_rad[0])[1], config)
    for episode in zip(centers, intensities, joint_positions_rad, strict=True):
        labeller.update_episode(*episode)
    labeller.refresh()
    return labeller
