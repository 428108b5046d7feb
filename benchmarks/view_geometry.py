"""How robust the plane-geometry view recognition is to imperfect planning: simulated exam geometries.

Each simulated exam has a short-axis stack and the 2CH, 3CH and 4CH planned about the LV long axis,
plus an RV view, with planning errors drawn from assumptions set here (not from any exam): the stack
normal tilted off the true LV axis (SD --sax-tilt degrees), each long-axis view turned off its ideal
place (SD --turn-error degrees) and missing the LV axis (SD 3 mm), the RV view 25-50 mm off it.
Descriptions are right for most series and wrong or empty for the rest (as in real exports: the 3CH
often comes labelled 4CH). Only the geometry and the descriptions enter; the frames are blank.

Prints the confusion table (true series kind x what plane_roles recognises) and how often
select_series picks the true 2CH and 4CH, against the description alone (the series labelled
with the view; the one with most frames, then the first) in the same exams.

    .venv/bin/python benchmarks/view_geometry.py [--exams 500] [--turn-error 10] [--sax-tilt 5]
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

KINDS = ("short axis", "2CH", "3CH", "4CH", "RV view")
IDEAL_TURN = {"2CH": 0.0, "3CH": 60.0, "4CH": 120.0}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _cine(row_dir, col_dir, centre, description, view):
    from mvtrack.io import Cine

    rows, cols, spacing = 40, 52, 1.5
    position = centre - (cols - 1) / 2 * spacing * row_dir - (rows - 1) / 2 * spacing * col_dir
    return Cine(frames=np.zeros((10, rows, cols), np.float32), pixel_spacing_mm=(spacing, spacing),
                times_s=np.arange(10) * 0.04, rr_s=0.4, view=view, view_source=f"SeriesDescription {description!r}",
                orientation=np.concatenate([row_dir, col_dir]), position_mm=position, series_description=description,
                series_uid=description + str(id(row_dir)), source_paths=())


def simulate_exam(rng: np.random.Generator, turn_error_deg: float, sax_tilt_deg: float):
    """(cines, true kinds) of one simulated exam."""
    from mvtrack.geometry.exam import turned_about
    from mvtrack.io.views import view_from_text

    axis = _unit(np.array([0.5, -0.6, -0.6]) + rng.normal(0, 0.15, 3))  # base to apex, LPS
    centre = rng.normal(0, 30, 3)
    anterior = _unit(np.array([0.0, -1.0, 0.0]) + axis[1] * axis)
    two_ch_turn = rng.uniform(0, 180)  # the heart's own rotation: unknown to the recogniser
    cines, kinds = [], []
    tilt_axis = _unit(np.cross(axis, rng.normal(0, 1, 3)))
    stack_normal = turned_about(axis, tilt_axis, rng.normal(0, sax_tilt_deg))
    in_stack = _unit(np.cross(stack_normal, [0.0, 0.0, 1.0]))
    for k in range(int(rng.integers(6, 13))):
        cines.append(_cine(in_stack, np.cross(stack_normal, in_stack), centre + (k - 3) * 8.0 * stack_normal, f"sax {k}", "unknown"))
        kinds.append("short axis")

    def long_axis_plane(turn_deg, miss_mm):
        across = turned_about(anterior, axis, turn_deg)
        normal = np.cross(across, axis)
        return across, centre + 20 * axis + miss_mm * normal

    for view in ("2CH", "3CH", "4CH"):
        across, point = long_axis_plane(two_ch_turn + IDEAL_TURN[view] + rng.normal(0, turn_error_deg), rng.normal(0, 3.0))
        draw = rng.random()
        if view == "3CH":
            description = "cine 3ch" if draw < 0.5 else ("cine 4ch" if draw < 0.75 else "cine lax")
        else:
            description = f"cine {view.lower()}" if draw < 0.85 else ("cine lax" if draw < 0.95 else "cine 3ch")
        cines.append(_cine(across, axis, point, description, view_from_text(description)))
        kinds.append(view)
    across, point = long_axis_plane(rng.uniform(0, 180), rng.choice([-1, 1]) * rng.uniform(25, 50))
    description = "cine rv 2ch" if rng.random() < 0.5 else "cine rv"
    cines.append(_cine(across, axis, point, description, view_from_text(description)))
    kinds.append("RV view")
    order = rng.permutation(len(cines))
    return [cines[i] for i in order], [kinds[i] for i in order]


def recognised_as(role) -> str:
    from mvtrack.pipeline.exam import LV_LONG_AXIS, OFF_LV_AXIS, SHORT_AXIS

    if role.kind == SHORT_AXIS:
        return "short axis"
    if role.kind == OFF_LV_AXIS:
        return "off the LV"
    if role.kind == LV_LONG_AXIS:
        return role.recognised or "LV, unnamed"
    return role.kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exams", type=int, default=500)
    parser.add_argument("--turn-error", type=float, default=10.0, help="SD of a view's turn off its ideal place (degrees)")
    parser.add_argument("--sax-tilt", type=float, default=5.0, help="SD of the stack normal off the LV axis (degrees)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from mvtrack.pipeline.exam import plane_roles, select_series

    rng = np.random.default_rng(args.seed)
    confusion = collections.Counter()
    picked = collections.Counter()
    baseline = collections.Counter()
    for _ in range(args.exams):
        cines, kinds = simulate_exam(rng, args.turn_error, args.sax_tilt)
        for kind, role in zip(kinds, plane_roles(cines)):
            confusion[kind, recognised_as(role)] += 1
        chosen, _, _ = select_series(cines)
        truth = {kinds[i]: cines[i] for i in range(len(cines)) if kinds[i] in ("2CH", "4CH")}
        labelled = {view: max((c for c in cines if c.view == view), key=lambda c: c.n_frames, default=None)
                    for view in ("2CH", "4CH")}
        for view in ("2CH", "4CH"):
            for counter, found in ((picked, chosen.get(view)), (baseline, labelled[view])):
                counter[view, "none" if found is None else
                        "right" if np.allclose(found.orientation, truth[view].orientation) else "wrong"] += 1
    columns = ["short axis", "2CH", "3CH", "4CH", "LV, unnamed", "off the LV", "not checked", "not long axis"]
    print(f"{args.exams} simulated exams: view turns off their place SD {args.turn_error:g} deg, stack normal off the LV "
          f"axis SD {args.sax_tilt:g} deg, planes missing the LV axis SD 3 mm, RV view 25-50 mm off it\n")
    print("| true \\ recognised | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for kind in KINDS:
        print(f"| {kind} | " + " | ".join(str(confusion[kind, c]) for c in columns) + " |")
    print("\n| view | chosen by | right | wrong | none |")
    print("|---|---|---:|---:|---:|")
    for view in ("2CH", "4CH"):
        for label, counter in (("plane geometry + description", picked), ("description alone", baseline)):
            print(f"| {view} | {label} | {counter[view, 'right']} | {counter[view, 'wrong']} | {counter[view, 'none']} |")


if __name__ == "__main__":
    main()
