"""Ablation (issue 13, lever 3): image motion between frames fused with the per-frame network points.

Not part of the pipeline: on the real exam it moved the 4CH median error from 8.0 to 7.5 mm and the
2CH from 2.4 to 2.5 mm while costing synthetic accuracy (docs/MODEL_CARD.md, ablation table), so it
was not kept. Needs OpenCV (``pip install opencv-python-headless``; in the dev extra).

    .venv/bin/python experiments/flow_fusion/flow_fusion.py [--subjects 6] [--weights 0.5 2 8 32]

The networks look at each frame on its own (the paper's own limitation: frame-by-frame tracking),
and on real scans their errors wander from frame to frame (real 3T 4CH: 3-5 mm in systole, 10-18 mm
in diastole). The image itself carries the valve's motion: dense optical flow (OpenCV DIS) between
neighbouring frames says how each point moves from one frame to the next. The fused track
minimises, per point, over the T frames of the (periodic) cycle

    sum_t w_t |q_t - n_t|^2  +  lam * sum_t |q_{t+1} - q_t - f_t(q_t)|^2

(n_t the network's points, f_t the flow from frame t to t+1, sampled where the track is; the last
frame's flow leads back to the first), solved by a few rounds of linear least squares.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) any intensities -> uint8 with the cine's 1st-99.5th percentiles stretched to 0-255."""
    low, high = np.percentile(frames, [1.0, 99.5])
    return (np.clip((frames - low) / max(high - low, 1e-6), 0, 1) * 255).astype(np.uint8)


def forward_flows(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) cine -> (T, H, W, 2) flow (dx, dy) pixels from frame t to frame t+1 (the last to the first)."""
    import cv2

    images = to_uint8(frames)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    n = len(images)
    return np.stack([dis.calc(images[t], images[(t + 1) % n], None) for t in range(n)])


def sample_flow(flow: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """(H, W, 2) flow sampled (bilinear) at (N, 2) points (x, y) -> (N, 2)."""
    coords = [points_px[:, 1], points_px[:, 0]]
    return np.stack([ndimage.map_coordinates(flow[..., c], coords, order=1, mode="nearest") for c in range(2)], axis=-1)


def fuse_with_flow(points_px: np.ndarray, flows: np.ndarray, weights: np.ndarray | None = None,
                   flow_weight: float = 4.0, rounds: int = 3) -> np.ndarray:
    """Fused tracks (T, 2, 2) from per-frame points (T, 2, 2) and forward flows (T, H, W, 2).

    ``weights`` (T, 2): trust in each frame's network point (default 1); ``flow_weight``: ``lam``
    above, the trust in the flow relative to one frame's network point.
    """
    points_px = np.asarray(points_px, dtype=float)
    n = len(points_px)
    weights = np.ones((n, 2)) if weights is None else np.asarray(weights, dtype=float)
    # The difference operator of the periodic track: (D q)_t = q_{t+1} - q_t.
    difference = np.roll(np.eye(n), 1, axis=1) - np.eye(n)
    fused = points_px.copy()
    for _ in range(rounds):
        for k in range(2):
            motion = sample_flow_along(flows, fused[:, k])  # (T, 2)
            system = np.diag(weights[:, k]) + flow_weight * difference.T @ difference
            rhs = weights[:, k, None] * points_px[:, k] + flow_weight * difference.T @ motion
            fused[:, k] = np.linalg.solve(system, rhs)
    return fused


def sample_flow_along(flows: np.ndarray, track_px: np.ndarray) -> np.ndarray:
    """(T, 2) flow of each frame sampled at the track's point in that frame."""
    return np.stack([sample_flow(flows[t], track_px[t:t + 1])[0] for t in range(len(track_px))])


def main() -> None:
    import argparse

    from mvtrack.evaluate.reference import reference_views, score_view, truth_as_reference
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.track import refine_over_time, track_cine
    from mvtrack.synth.generator import generate_subject

    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 2.0, 8.0, 32.0])
    args = parser.parse_args()
    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    cases = [(f"real {study} {view}", cine, ref_view) for study, view, cine, ref_view in reference_views(repo / "data")]
    for index in range(args.subjects):
        for view, v in generate_subject(9001, index).views.items():
            cases.append((f"synthetic {index} {view}", v.cine, truth_as_reference(v.cine, v.points_px)))
    models = ModelSet()
    print(f"median point error (mm): shipped pipeline, then fused with flow at weights {args.weights}")
    synthetic = []
    for name, cine, ref in cases:
        track = track_cine(cine, models, search=False)
        flows = forward_flows(cine.frames)
        row = [score_view(track.points_px, cine.times_s, ref)["median_mm"]]
        for weight in args.weights:
            fused = refine_over_time(fuse_with_flow(track.raw_px, flows, flow_weight=weight), cine.times_s, cine.rr_s)
            row.append(score_view(fused, cine.times_s, ref)["median_mm"])
        if name.startswith("synthetic"):
            synthetic.append(row)
        print(f"{name:28s} " + " ".join(f"{value:6.2f}" for value in row), flush=True)
    if synthetic:
        print(f"{'synthetic mean':28s} " + " ".join(f"{value:6.2f}" for value in np.mean(synthetic, axis=0)))


if __name__ == "__main__":
    main()
