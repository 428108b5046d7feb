"""Make a view's stage 2 in a model folder an equal-weight ensemble with another stage-2 ONNX network.

`mvtrack.models.store.ModelSet` averages the points of a network entry and of its ``ensemble``
members (manifest). mvtrack-v5's 4CH stage 2 was made this way from v4's (= v3's, synthetic training
only) and the network fine-tuned (2026-12-05) for shift consistency on the MVnet sample's 4CH (also the
4CH critic): docs/MODEL_CARD.md, "output ensemble".

    python scripts/ensemble_stage2.py MODEL_DIR --view 4CH --member 4ch_stage2_critic.onnx --model-id mvtrack-v5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--view", default="4CH", choices=["2CH", "4CH", "3CH"])
    parser.add_argument("--member", required=True, help="an ONNX file in MODEL_DIR")
    parser.add_argument("--about", default="")
    parser.add_argument("--model-id", default=None)
    args = parser.parse_args()

    from mvtrack.models.store import MANIFEST, read_manifest, sha256_of

    manifest = read_manifest(args.model_dir)
    entry = manifest["networks"][f"{args.view.lower()}_stage2"]
    member = {"onnx": args.member, "onnx_sha256": sha256_of(args.model_dir / args.member), "network": entry["network"]}
    if args.about:
        member["about"] = args.about
    entry["ensemble"] = [*entry.get("ensemble", []), member]
    if args.model_id:
        manifest["model_id"] = args.model_id
    (args.model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
