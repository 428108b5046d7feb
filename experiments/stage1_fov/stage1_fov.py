"""Is a lost stage 1 lost because of the field of view or where the heart sits in it? (issue 36, part 4)

Stage 1 of the shipped model on square crops of each real view centred on its own reference (or
by-eye) MV centre, an oracle no analysis has, at 160-350 mm and shifted 30 mm each way, against the
whole frame: if a crop like the synthetic fields of view (250-420 mm, the heart anywhere within 20 %
of the centre) brought stage 1 within reach, the cause would be the field of view; if none does, it
is how the heart looks.

    .venv/bin/python experiments/stage1_fov/stage1_fov.py
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

FOVS_MM = (160, 200, 250, 300, 350)
SHIFTS_MM = ((0, 0), (30, 0), (-30, 0), (0, 30), (0, -30))


def crop_around(frames: np.ndarray, centre_px: np.ndarray, half_px: int, shift_px: np.ndarray):
    """Square crops (T, 2h, 2h) of the frames around centre + shift, zero outside; and their top-left (x, y)."""
    x0, y0 = (np.round(centre_px + shift_px).astype(int) - half_px)
    padded = np.pad(frames, ((0, 0), (2 * half_px, 2 * half_px), (2 * half_px, 2 * half_px)))
    return padded[:, y0 + 2 * half_px:y0 + 4 * half_px, x0 + 2 * half_px:x0 + 4 * half_px], np.array([x0, y0])


def main() -> None:
    from stage1_real import real_views

    from mvtrack.evaluate.points import align_point_order, point_errors_mm
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import stage1_points

    models = ModelSet(None)
    print("| real view | whole frame (mm) | " + " | ".join(f"{f} mm crop: centred / worst / best of 4 shifts" for f in FOVS_MM) + " |")
    print("| --- | ---: |" + " --- |" * len(FOVS_MM))
    for label, cine, reference, frames, _, order in real_views():
        spacing = cine.pixel_spacing_mm

        def median_error(frames_in, origin, cine=cine, frames=frames, reference=reference, order=order):
            points = stage1_points(replace(cine, frames=np.ascontiguousarray(frames_in)), models)[frames] + origin
            if order == "unordered":
                points, _ = align_point_order(points, reference)
            return float(np.median(point_errors_mm(points, reference, cine.pixel_spacing_mm)))

        cells = [f"{median_error(cine.frames, np.zeros(2)):.1f}"]
        centre = reference.mean(axis=(0, 1))
        for fov in FOVS_MM:
            half = int(fov / 2 / spacing[0])
            errors = [median_error(*crop_around(cine.frames, centre, half, np.array([dx / spacing[1], dy / spacing[0]])))
                      for dx, dy in SHIFTS_MM]
            cells.append(f"{errors[0]:.1f} / {max(errors[1:]):.1f} / {min(errors[1:]):.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
