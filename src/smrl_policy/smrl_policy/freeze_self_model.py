"""Save the self model a self_model policy was trained with, for the self model node to start from.

    python -m smrl_policy.freeze_self_model --policy src/smrl_policy/smrl_policy/models/td3_self_model_touch.pt
    ros2 run smrl_self_model self_model_node --ros-args -p self_evidence:=<the file written>

A self_model policy learned on the per-frame labels of a self model frozen on a babbling dataset
(its file names the dataset). Live, the self model node starts knowing nothing and labels every
keypoint unknown for the first ~20 s; with those labels the shipped touch policy touches in 25 of
100 episodes instead of 100. This writes the frozen labeller's samples (an evidence file), from
which the node starts labelling as in training, and learns on. Default output: beside the policy,
`<policy stem>.self_evidence.pt`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from smrl_policy.core.environments import FrozenSelfModel
from smrl_policy.core.policy import load_policy


def evidence_path(policy_path: Path) -> Path:
    return policy_path.with_name(f"{policy_path.stem}.self_evidence.pt")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, required=True, help="a self_model policy file")
    parser.add_argument("--self-model-data", type=Path, default=None,
                        help="babbling dataset (default: the one named in the policy file; collected when missing)")
    parser.add_argument("--out", type=Path, default=None, help="evidence file (default: beside the policy)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        self_model = FrozenSelfModel.for_policy(getattr(load_policy(args.policy), "metadata", {}), args.self_model_data)
    except ValueError as error:
        raise SystemExit(f"error: {args.policy}: {error}") from None
    out = self_model.save_evidence(args.out or evidence_path(args.policy))
    labeller = self_model.labeller
    print(f"wrote {out}: {labeller.num_samples} samples of {self_model.dataset}, labels {labeller.labels.tolist()} "
          f"(1 self, 2 world), scores {labeller.scores.round(2).tolist()}")


if __name__ == "__main__":
    main()
