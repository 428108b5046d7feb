"""Weight-space interpolation (WiSE-FT) of a stage-2 network: a model folder between two checkpoints.

Issue 13 (fbf1f99, 2026-12-05): the 4CH stage 2 fine-tuned for shift consistency on the MVnet sample moved the
real 4CH toward the annulus but cost 27-38 % synthetic accuracy. This writes, for each ``--alpha``, a
model folder whose ``--network`` is ``(1 - alpha) * base + alpha * tuned`` (stage 1 and the other
networks fall back to the shipped model); `benchmarks/accuracy.py --model` and
`benchmarks/real_scans.py --model` then measure each.

    python experiments/interpolate_networks/interpolate_networks.py OUT --network 4ch_stage2 \
        --tuned runs/ct_s300/4ch_stage2_consistency.pt --alpha 0.25 0.5 0.75
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="one model folder per alpha is written under it: OUT/alpha_0.50")
    parser.add_argument("--network", required=True, help="e.g. 4ch_stage2")
    parser.add_argument("--tuned", type=Path, required=True, help="the fine-tuned checkpoint (.pt)")
    parser.add_argument("--base", type=Path, default=None, help="the starting checkpoint (default: the shipped one)")
    parser.add_argument("--alpha", type=float, nargs="+", required=True)
    args = parser.parse_args()

    import torch

    from mvtrack.models.export import export_model_dir
    from mvtrack.models.store import ModelSet
    from mvtrack.train.weight_space import interpolate_state_dicts

    shipped = ModelSet()
    view, stage = args.network.split("_stage")
    base_path = args.base or shipped.weights_file(view.upper(), int(stage))
    base = torch.load(base_path, weights_only=True, map_location="cpu")
    tuned = torch.load(args.tuned, weights_only=True, map_location="cpu")
    with tempfile.TemporaryDirectory() as work:
        for alpha in args.alpha:
            path = Path(work) / f"{args.network}_{alpha:.2f}.pt"
            torch.save({"network": base["network"], "train": {"weight_interpolation": {
                "base": str(base_path), "tuned": str(args.tuned), "alpha": alpha}},
                "state_dict": interpolate_state_dicts(base["state_dict"], tuned["state_dict"], alpha)}, path)
            manifest = export_model_dir({args.network: path}, args.out / f"alpha_{alpha:.2f}",
                                        f"{shipped.model_id}+{args.network}-wise-{alpha:.2f}")
            print(f"wrote {manifest}")


if __name__ == "__main__":
    main()
