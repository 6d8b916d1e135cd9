"""Train the keypoint model: `python -m smrl_perception.train --data PATH... --out runs/keypoints`.

The defaults are those of the shipped model; this module only parses arguments.
"""
from __future__ import annotations

import argparse

from smrl_perception.core.checkpoint import CheckpointError
from smrl_perception.core.loss import LossWeights
from smrl_perception.core.pair_dataset import DatasetError
from smrl_perception.core.training import TrainConfig, train
from smrl_perception.core.transporter import TransporterConfig


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", nargs="+", required=True, help="dataset folders, .npz episodes, rosbag2 folders, .mcap files")
    data.add_argument("--topic", default=TrainConfig.image_topic, help="image topic in rosbag2 inputs")
    data.add_argument("--min-gap", type=int, default=TrainConfig.min_gap_frames, help="least frames source->target")
    data.add_argument("--max-gap", type=int, default=TrainConfig.max_gap_frames, help="most frames source->target")
    data.add_argument("--held-out", type=float, default=TrainConfig.held_out_fraction, help="episodes held out")
    model = parser.add_argument_group("model")
    model.add_argument("--image-size", type=int, default=TransporterConfig.image_size, help="px, square")
    model.add_argument("--keypoints", type=int, default=TransporterConfig.num_keypoints)
    model.add_argument("--widths", type=int, nargs=2, default=TransporterConfig.encoder_widths, help="encoder channels")
    model.add_argument("--gaussian-std", type=float, default=TransporterConfig.gaussian_std, help="normalised units")
    model.add_argument("--norm-groups", type=int, default=TransporterConfig.norm_groups)
    model.add_argument("--pixel-transport", action="store_true",
                       help="transport the frames' pixels too, so small objects are drawn sharp")
    model.add_argument("--coordinate-channels", action="store_true",
                       help="the keypoint encoder sees pixel coordinates too, so it can tell two look-alike arms apart")
    optimisation = parser.add_argument_group("optimisation")
    optimisation.add_argument("--steps", type=int, default=TrainConfig.steps)
    optimisation.add_argument("--gaussian-std-start", type=float, default=None,
                              help="start with wider Gaussian maps (normalised std), narrowing to --gaussian-std")
    optimisation.add_argument("--heatmap-mask-start", type=float, default=TrainConfig.heatmap_mask_start,
                              help="share of the heatmaps in the transport masks at first (0..1), annealed to 0")
    optimisation.add_argument("--anneal-steps", type=int, default=TrainConfig.anneal_steps,
                              help="steps over which --gaussian-std-start and --heatmap-mask-start anneal")
    optimisation.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    optimisation.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    optimisation.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    optimisation.add_argument("--reconstruction-weight", type=float, default=LossWeights.reconstruction)
    optimisation.add_argument("--consistency-weight", type=float, default=LossWeights.consistency)
    optimisation.add_argument("--residual-attention-weight", type=float, default=LossWeights.residual_attention,
                              help="pull heatmaps to where the reconstruction is still wrong (see loss.py)")
    optimisation.add_argument("--colour-consistency-weight", type=float, default=LossWeights.colour_consistency,
                              help="keep each keypoint on things of one colour across frames and scenes (see loss.py)")
    optimisation.add_argument("--motion-weight", type=float, default=LossWeights.motion,
                              help="extra reconstruction weight of pixels that changed between the two frames")
    run = parser.add_argument_group("run")
    run.add_argument("--out", default=TrainConfig.out_dir, help="run folder (resumed if it has a checkpoint)")
    run.add_argument("--no-resume", action="store_true", help="start afresh even if --out has a checkpoint")
    run.add_argument("--eval-every", type=int, default=TrainConfig.eval_every_steps)
    run.add_argument("--eval-pairs", type=int, default=TrainConfig.eval_pairs)
    run.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every_steps)
    run.add_argument("--seed", type=int, default=TrainConfig.seed)
    run.add_argument("--threads", type=int, default=TrainConfig.num_threads)
    run.add_argument("--no-channels-last", action="store_true", help="use contiguous (NCHW) memory format")
    args = parser.parse_args(argv)
    return TrainConfig(
        data=args.data,
        out_dir=args.out,
        model=TransporterConfig(
            image_size=args.image_size,
            num_keypoints=args.keypoints,
            encoder_widths=tuple(args.widths),
            gaussian_std=args.gaussian_std,
            norm_groups=args.norm_groups,
            pixel_transport=args.pixel_transport,
            coordinate_channels=args.coordinate_channels,
        ),
        loss_weights=LossWeights(reconstruction=args.reconstruction_weight, consistency=args.consistency_weight,
                                 motion=args.motion_weight, residual_attention=args.residual_attention_weight,
                                 colour_consistency=args.colour_consistency_weight),
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        gaussian_std_start=args.gaussian_std_start,
        heatmap_mask_start=args.heatmap_mask_start,
        anneal_steps=args.anneal_steps,
        min_gap_frames=args.min_gap,
        max_gap_frames=args.max_gap,
        held_out_fraction=args.held_out,
        eval_every_steps=args.eval_every,
        eval_pairs=args.eval_pairs,
        checkpoint_every_steps=args.checkpoint_every,
        image_topic=args.topic,
        seed=args.seed,
        num_threads=args.threads,
        channels_last=not args.no_channels_last,
        resume=not args.no_resume,
    )


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        train(config)
    except (DatasetError, CheckpointError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
