"""Learn shift consistency once, on unlabelled real cines, instead of per study at test time (issue 13, lever 5).

``mvtrack analyze --adapt`` fine-tunes stage 2 on the study being analysed. This script does the same
fine-tuning (``mvtrack.train.consistency.adapt_stage2``, with the synthetic anchor) on other real cines
-- by default the built-in MVnet sample (1.5 T, unlabelled; the issue allows it for training), never
the measurement exam -- and writes a model folder whose stage-2 networks are the adapted ones (stage 1
from the shipped model). Whether that carries over to an unseen exam is what
``benchmarks/real_scans.py --model OUT --no-sample`` then measures.

The tracks the crops are placed around come from the shipped model's analysis of each cine; with
``--rounds 2`` the cines are analysed again with the adapted networks and the adaptation continues
around the new tracks.

    python scripts/consistency_training.py OUT [--steps 300] [--anchor-subjects 6] [--seed 0] [--rounds 1]
        [--study DIR ...]   (default: the built-in MVnet sample)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from importlib.resources import files
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--study", type=Path, action="append", default=None,
                        help="unlabelled real study folders to adapt on (default: the built-in MVnet sample)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--anchor-subjects", type=int, default=6)
    parser.add_argument("--anchor-weight", type=float, default=1.0)
    parser.add_argument("--all-cines", action="store_true",
                        help="each view's network learns from every cine (of every view), not only its own view's")
    parser.add_argument("--view", action="append", default=None, help="adapt only these views' stage 2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from mvtrack.models.export import export_model_dir
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.adapt import anchor_samples, torch_stage2
    from mvtrack.pipeline.study import analyze_study
    from mvtrack.train.consistency import ConsistencyConfig, TorchStage2, WithStage2, adapt_stage2

    torch.set_num_threads(args.threads)
    studies = args.study or [Path(str(files("mvtrack") / "data" / "mvnet-sample"))]
    shipped = ModelSet(threads=args.threads)
    config = replace(ConsistencyConfig(), steps=args.steps, learning_rate=args.learning_rate,
                     anchor_weight=args.anchor_weight)
    analyses = [analyze_study(folder, models=shipped) for folder in studies]
    views = sorted({view for study in analyses for view in study.tracks if not args.view or view in args.view})
    anchors = {view: anchor_samples(view, args.anchor_subjects) for view in views} if args.anchor_subjects else {}
    networks = {view: torch_stage2(shipped, view) for view in views}
    log = {"studies": [str(s) for s in studies], "config": {**asdict(config), "anchor_subjects": args.anchor_subjects,
                                                          "seed": args.seed, "rounds": args.rounds}, "rounds": []}
    for round_index in range(args.rounds):
        if round_index:
            adapted = WithStage2(shipped, {v: TorchStage2(m, c.input_shape) for v, (c, m) in networks.items()})
            analyses = [analyze_study(folder, models=adapted) for folder in studies]
        for view, (network_config, model) in networks.items():
            pairs = [(study.cines[v], study.tracks[v].points_px) for study in analyses for v in study.tracks
                     if v == view or args.all_cines]
            start = time.perf_counter()
            torch.manual_seed(args.seed + round_index)
            losses = adapt_stage2(model, pairs, config, seed=args.seed + round_index, anchor=anchors.get(view),
                                  log=lambda line, v=view: print(f"{v} round {round_index + 1}: {line}", flush=True))
            log["rounds"].append({"round": round_index + 1, "view": view, "cines": len(pairs),
                                  "disagreement_first25_mm": float(sum(losses[:25]) / 25),
                                  "disagreement_last25_mm": float(sum(losses[-25:]) / 25),
                                  "seconds": round(time.perf_counter() - start, 1)})
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoints = {}
    for view, (network_config, model) in networks.items():
        path = args.out / f"{view.lower()}_stage2_consistency.pt"
        torch.save({"network": network_config.to_dict(), "state_dict": model.state_dict(),
                    "train": {"consistency": log["config"]}}, path)
        checkpoints[f"{view.lower()}_stage2"] = path
    export_model_dir(checkpoints, args.out / "model", f"{shipped.model_id}+consistency-trained",
                     notes={"consistency_training": log})
    (args.out / "log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps(log["rounds"], indent=1))


if __name__ == "__main__":
    main()
