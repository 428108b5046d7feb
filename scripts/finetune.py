"""Fine-tune one shipped network (a view's stage 1 or 2) on synthetic subjects of a generator variant (a CPU experiment).

Issue 13, lever 1 (training that ignores the look): ``--random-contrast 0.8`` renders most subjects
with fully random tissue intensities (SynthSeg-like) instead of the shipped model's 15 %, so that the
network must find the hinge from the shape of the junction rather than from the generator's
contrasts. The result is a model folder holding only the fine-tuned network (the others come from
the shipped model), for `benchmarks/real_scans.py --model RUN/model` and `benchmarks/accuracy.py`.

``--hinge-look 0.7`` renders most subjects with an annulus that looks as real ones often do (no waist,
faint LA wall and leaflets that come and go over the cycle: ``mvtrack.synth.variants._hinge_look``).

``--busy 0.7`` renders most subjects with a chest that fills the field of view and is crowded with
small structures and vessels (``mvtrack.synth.variants._busy_surroundings``): what the realism
classifier found real frames have and ours lack. It matters most for stage 1, which sees the whole frame.

``--dark-wall 0.5`` renders half the subjects with thick dark LA / RA walls, often without a waist, and
chemical-shift lines at fat-water boundaries (``mvtrack.synth.variants.DarkWalls``): the dark band of
the LV wall then runs on past the hinge, as in real diastolic 4CH frames. ``--dark-groove 0.6``: the
AV-groove fat as dark as the LV wall and 8-20 mm deep, so the band runs on as thick as the wall.
``--relaxed-base 0.5`` (issue 36): half the subjects with the relaxed base, the basal wall thinning toward
the MV line and running on past the hinge into the atrium out of systole
(``mvtrack.synth.variants._relaxed_base``). ``--diastolic-wall 0.5``: half with LA / RA walls that thicken and
darken out of systole (``generate_subject(diastolic_wall_probability=...)``).

    python scripts/finetune.py RUN --view 4CH [--stage 2] [--subjects 200] [--minutes 50] [--random-contrast 0.8]
        [--hinge-look 0.7] [--busy 0.7] [--dark-wall 0.5] [--dark-groove 0.6] [--relaxed-base 0.5] [--diastolic-wall 0.5] [--average-from 0.3] [--from-scratch --batch-size 64 --lr 2e-4]
        (RUN/model: the best checkpoint; RUN/model_averaged: the weight average)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--view", default="4CH", choices=["2CH", "4CH", "3CH"])
    parser.add_argument("--stage", type=int, default=2, choices=[1, 2])
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7000, help="synthetic subjects (v3 trained on 3000, tests use 9001)")
    parser.add_argument("--minutes", type=float, default=50.0)
    parser.add_argument("--random-contrast", type=float, default=0.8)
    parser.add_argument("--hinge-look", type=float, default=0.0)
    parser.add_argument("--busy", type=float, default=0.0, help="share of views with busy surroundings")
    parser.add_argument("--dark-wall", type=float, default=0.0, help="share of views with dark walls past the hinge")
    parser.add_argument("--dark-groove", type=float, default=0.0, help="share of views with a dark AV groove past the hinge")
    parser.add_argument("--relaxed-base", type=float, default=0.0, help="share of views with the relaxed base")
    parser.add_argument("--diastolic-wall", type=float, default=0.0, help="share of views with diastolic dark walls")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--from-scratch", action="store_true", help="start from random weights, not the shipped network")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--average-from", type=float, default=None,
                        help="average the weights from this fraction of the run on (SWA/SWAD-like); also exported")
    args = parser.parse_args()

    from mvtrack.models.export import export_model_dir, load_checkpoint
    from mvtrack.models.network import NetworkConfig
    from mvtrack.models.store import shipped_model_dir
    from mvtrack.train.data import _synthetic_job, build_cache, synthetic_jobs
    from mvtrack.train.run import augment_config_for
    from mvtrack.train.trainer import TrainConfig, train_network

    generator = {"random_contrast_probability": args.random_contrast, "hinge_look_probability": args.hinge_look,
                 "busy_probability": args.busy, "dark_wall_probability": args.dark_wall,
                 "dark_groove_probability": args.dark_groove, "relaxed_base_probability": args.relaxed_base,
                 "diastolic_wall_probability": args.diastolic_wall}
    cache = args.run / "cache" / f"{args.view}.npz"
    if not cache.exists():
        jobs = synthetic_jobs(args.subjects, args.seed, views=(args.view,),
                              generator_options=generator)
        build_cache(args.run / "cache", jobs, _synthetic_job, workers=2)
    name = f"{args.view.lower()}_stage{args.stage}"
    start = load_checkpoint(shipped_model_dir() / f"{name}.pt")
    network = NetworkConfig(**start["network"])
    config = TrainConfig(epochs=1000, batch_size=args.batch_size, learning_rate=args.lr, max_minutes=args.minutes, seed=0,
                         threads=args.threads, augment_config=augment_config_for(network), average_from=args.average_from)
    out = args.run / f"stage{args.stage}"
    summary = train_network(network, config, cache, out, init_state=None if args.from_scratch else start["state_dict"],
                            progress=False)
    notes = {"generator": {**generator, "seed": args.seed, "subjects": args.subjects}}
    model_id = (f"{'scratch' if args.from_scratch else 'finetune'}-{name}-rc{args.random_contrast:g}"
                f"-hl{args.hinge_look:g}-busy{args.busy:g}-dark{args.dark_wall:g}-groove{args.dark_groove:g}"
                f"-relaxed{args.relaxed_base:g}-diastolicwall{args.diastolic_wall:g}")
    export_model_dir({name: out / "best.pt"}, args.run / "model", model_id, notes=notes)
    if (out / "averaged.pt").exists():
        export_model_dir({name: out / "averaged.pt"}, args.run / "model_averaged", model_id + "-averaged", notes=notes)
    print(json.dumps({name: {k: summary[k] for k in ("best_val_mm", "averaged_val_mm", "iterations", "minutes")}}))


if __name__ == "__main__":
    main()
