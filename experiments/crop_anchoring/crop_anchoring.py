"""Does stage 2 read the image or lean on where its crop was put? (issue 13 diagnostic)

Stage 2 is run once on crops standardised from the reference (or truth) points moved along the MV
line's normal by -8, -4, 0, +4, +8 mm. Per frame, the slope of where the predicted points land (along
the normal) against the crop's shift says what the network leans on: 0 = the points stay on an image
structure whatever the crop, 1 = they move with the crop (the network is guessing from the crop's
position, not reading the image). With the offset at zero shift: how far from the reference the
structure it reads lies (mm, + toward the apex).

Real views: the 3T exam in data/ (reference points); synthetic: test subjects of seed 9001.

    .venv/bin/python experiments/crop_anchoring/crop_anchoring.py [--model DIR] [--subjects 3]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHIFTS_MM = np.array([-8.0, -4.0, 0.0, 4.0, 8.0])


def anchoring(cine, start_px: np.ndarray, models) -> tuple[np.ndarray, np.ndarray]:
    """(slope (T,), offset (T,) mm): per frame, the mean over both points of the slope of the predicted
    position along the MV-line normal against the crop's shift, and the position at zero shift,
    both relative to ``start_px`` (T, 2, 2)."""
    from mvtrack.geometry import standardisation_from_points
    from mvtrack.geometry.standardise import apex_normal_mm
    from mvtrack.pipeline.track import stage2_points

    spacing = cine.pixel_spacing_mm
    mm = np.array([spacing[1], spacing[0]])
    normal = apex_normal_mm(start_px, spacing)
    along = []
    for shift in SHIFTS_MM:
        std = standardisation_from_points(start_px + shift * normal / mm, spacing)
        points, _ = stage2_points(cine, models.network(cine.view, 2), std)
        along.append((((points - start_px) * mm) @ normal).mean(-1))  # (T,)
    along = np.array(along)
    slope = np.polyfit(SHIFTS_MM, along, 1)[0]
    return slope, along[list(SHIFTS_MM).index(0.0)]


def phase_rows(label: str, slope: np.ndarray, offset: np.ndarray, end_systole: int) -> list[str]:
    """Table rows for the systolic (frames 0 .. end_systole) and diastolic frames of one view."""
    rows = []
    for phase, frames in (("systole", slice(0, end_systole + 1)), ("diastole", slice(end_systole + 1, None))):
        rows.append(f"| {label} | {phase} | {np.median(slope[frames]):.2f} | {slope[frames].max():.2f} | "
                    f"{np.median(offset[frames]):+.1f} | {np.abs(offset[frames]).max():.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--subjects", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from mvtrack.evaluate.reference import reference_views
    from mvtrack.metrics import displacement_mm
    from mvtrack.models.store import ModelSet
    from mvtrack.synth.generator import generate_subject

    models = ModelSet(args.model)
    print(f"model {models.model_id}\n")
    print("| view | phase | median slope | largest slope | median offset (mm) | largest offset (mm) |")
    print("|---|---|---:|---:|---:|---:|")
    for study, view, cine, ref_view in reference_views(ROOT / "data"):
        truth = np.asarray(ref_view["points_px"], dtype=float)
        end_systole = int(np.argmax(displacement_mm(truth, cine.pixel_spacing_mm)))
        print("\n".join(phase_rows(f"{study} {view}", *anchoring(cine, truth, models), end_systole)))
    for index in range(args.subjects):
        for view, rendered in generate_subject(9001, index).views.items():
            end_systole = int(np.argmax(displacement_mm(rendered.points_px, rendered.cine.pixel_spacing_mm)))
            rows = phase_rows(f"synthetic {index} {view}", *anchoring(rendered.cine, rendered.points_px, models), end_systole)
            print("\n".join(rows))


if __name__ == "__main__":
    main()
