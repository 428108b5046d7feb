"""Is a view's MV point where the other views' annulus says it is? (issue 13: checking the yardstick)

The reference of the real 3T exam is automated (biv-me), not hand-drawn: where mvtrack and the
reference disagree by 15 mm, which is off? The annulus is close to one plane (a saddle a few mm
deep), and a study with three long-axis views gives six of its points per phase. So, per tracked
view and point: its distance from the least-squares plane of the *other* views' reference points at
the same phase of the cycle (each view resampled over its own RR), for the reference's point and for
mvtrack's. The other views' plane owes nothing to the view being judged; how flat it is (RMS of its
own four points) says how far to trust it.

Rows: median over the phases (and over the second half of the cycle: diastole, where the real 4CH
goes wrong), and the phase with the largest distance. Needs a reference study with three views that
carry DICOM plane geometry (data/bivme-patient1: 2CH, 3CH, 4CH).

A second table asks whether two views could correct each other (a study has 2CH and 4CH more often
than a third view): per tracked view and point, its distance from the plane through the other
tracked view's two points and this view's other point, for the reference's points and for
mvtrack's; and mvtrack's point error before and after moving the point, within its own image plane,
onto that plane.

    .venv/bin/python experiments/reference_planarity/reference_planarity.py [--model DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # real_scans, real_sample


def phase_points(cine, points_px: np.ndarray, n_phases: int) -> np.ndarray:
    """(n_phases, 2, 3) patient mm of a view's (T, 2, 2) stored-pixel points."""
    from mvtrack.metrics.plane import points_at_phases
    from mvtrack.pipeline.plane import patient_points

    points_mm, reason = patient_points(cine, np.asarray(points_px, dtype=float))
    if points_mm is None:
        raise SystemExit(f"{cine.source}: {reason}")
    return points_at_phases(points_mm, cine.times_s, cine.rr_s, n_phases)


def other_views_planes(others: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per phase, the least-squares plane of the other views' (N, 2, 3) points: centres (N, 3), unit
    normals (N, 3) and the plane's own RMS (N,) mm."""
    from mvtrack.metrics.plane import fit_plane

    fits = [fit_plane(np.concatenate([view[phase] for view in others])) for phase in range(len(others[0]))]
    return tuple(np.array(values) for values in zip(*fits))


def distances_mm(points: np.ndarray, centres: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 2) unsigned distances (mm) of a view's (N, 2, 3) points from the per-phase planes."""
    return np.abs(np.einsum("npk,nk->np", points - centres[:, None], normals))


def onto_plane_within_view(point: np.ndarray, centre: np.ndarray, normal: np.ndarray, view_normal: np.ndarray) -> np.ndarray:
    """(3,) the point moved within its image plane (unit normal ``view_normal``) along the in-plane
    direction of the plane's ``normal`` until it lies on the plane (the closest such point)."""
    in_plane = normal - (normal @ view_normal) * view_normal
    return point - ((point - centre) @ normal) / (in_plane @ normal) * in_plane


def two_view_rows(name: str, cines: dict, ref_phases: dict, ours_phases: dict) -> list[str]:
    """Rows of the second table for the tracked views in ``ours_phases`` (two views)."""
    from mvtrack.geometry.patient import plane_normal
    from mvtrack.metrics.plane import fit_plane

    def planes(phases: dict, view: str, other: str, point: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per phase, (centre, normal) of the plane through ``other``'s two points and ``view``'s other point."""
        return [fit_plane(np.vstack([phases[other][phase], phases[view][phase][1 - point]]))[:2]
                for phase in range(len(phases[view]))]

    rows = []
    for view, other in ((a, b) for a in sorted(ours_phases) for b in sorted(ours_phases) if a != b):
        view_normal = plane_normal(cines[view].orientation)
        for point in range(2):
            cells = [name, view, f"{point} (reference order)", other]
            ours_planes = planes(ours_phases, view, other, point)
            for phases, fitted in ((ref_phases, planes(ref_phases, view, other, point)), (ours_phases, ours_planes)):
                distances = [abs((phases[view][phase][point] - centre) @ normal)
                             for phase, (centre, normal) in enumerate(fitted)]
                cells.append(f"{np.median(distances):.1f} / {max(distances):.1f}")
            ours, truth = ours_phases[view][:, point], ref_phases[view][:, point]
            moved = np.array([onto_plane_within_view(ours[phase], centre, normal, view_normal)
                              for phase, (centre, normal) in enumerate(ours_planes)])
            errors, moved_errors = (np.linalg.norm(p - truth, axis=-1) for p in (ours, moved))
            cells.append(f"{np.median(errors):.1f} -> {np.median(moved_errors):.1f}")
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--phases", type=int, default=25)
    args = parser.parse_args()

    from real_scans import run_reference_study

    from mvtrack.evaluate.points import align_point_order, match_frames
    from mvtrack.evaluate.reference import load_reference, reference_series_paths, reference_studies
    from mvtrack.io import read_cines
    from mvtrack.models.store import ModelSet

    models = ModelSet(args.model)
    print(f"model {models.model_id}; distance (mm) of each view's MV point from the plane of the other views' "
          "reference points, per phase")
    print("| study | view | point | other views (their plane's RMS, median mm) | reference: median / diastole / worst (phase) "
          "| mvtrack: median / diastole / worst (phase) |")
    print("|---|---|---|---|---|---|")
    half = args.phases // 2
    second_table = []
    for folder in reference_studies(REPO / "data"):
        reference = load_reference(folder)
        paths = reference_series_paths(folder, reference, tuple(reference["views"]))
        if len(paths) < 3:
            continue
        _, study, _ = run_reference_study(folder, models, 3, True)
        cines = {view: study.cines.get(view) or read_cines([path], view=view)[0] for view, path in paths.items()}
        ref_phases = {view: phase_points(cines[view], reference["views"][view]["points_px"], args.phases)
                      for view in cines}
        ours_phases = {}
        for view, out in sorted(study.result["views"].items()):
            ref_view = reference["views"][view]
            ours = match_frames(np.asarray(out["points_px"], dtype=float), np.asarray(out["times_s"]),
                                ref_view["times_s"], float(ref_view["rr_s"]))
            ours, _ = align_point_order(ours, np.asarray(ref_view["points_px"], dtype=float))
            others = [v for v in sorted(ref_phases) if v != view]
            centres, normals, flatness = other_views_planes([ref_phases[v] for v in others])
            theirs_d = distances_mm(ref_phases[view], centres, normals)
            ours_phases[view] = phase_points(cines[view], ours, args.phases)
            ours_d = distances_mm(ours_phases[view], centres, normals)
            for point in range(2):
                cells = [folder.name, view, f"{point} (reference order)",
                         f"{' + '.join(others)} ({np.median(flatness):.1f})"]
                for d in (theirs_d[:, point], ours_d[:, point]):
                    cells.append(f"{np.median(d):.1f} / {np.median(d[half:]):.1f} / {d.max():.1f} ({int(d.argmax())})")
                print("| " + " | ".join(cells) + " |")
        if len(ours_phases) == 2:
            second_table += two_view_rows(folder.name, cines, ref_phases, ours_phases)
    print("\nTwo views only: distance (mm) of each point from the plane through the other view's two points and "
          "this view's other point, per phase; mvtrack's point error (median over phases, mm) before -> after "
          "moving it within its image plane onto that plane")
    print("| study | view | point | other view | reference: median / worst | mvtrack: median / worst | mvtrack error: before -> after |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(second_table))


if __name__ == "__main__":
    main()
