"""Overlay movies: every frame with the two MV points and the MV line drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLOURS = (np.array([255, 60, 60]), np.array([60, 200, 255]))


def _draw_disc(rgb, x, y, radius, colour):
    height, width = rgb.shape[:2]
    rows, cols = np.ogrid[:height, :width]
    mask = (cols - x) ** 2 + (rows - y) ** 2 <= radius**2
    ring = mask & ((cols - x) ** 2 + (rows - y) ** 2 >= (radius - 1.2) ** 2)
    rgb[ring] = colour


def _draw_line(rgb, p, q, colour):
    n = int(np.ceil(np.hypot(*(q - p)) * 2)) + 1
    for t in np.linspace(0, 1, n):
        x, y = p + t * (q - p)
        r, c = int(round(y)), int(round(x))
        if 0 <= r < rgb.shape[0] and 0 <= c < rgb.shape[1]:
            rgb[r, c] = colour


def overlay_frames(frames: np.ndarray, points_px: np.ndarray, upscale: int = 2) -> list[np.ndarray]:
    """(T, H, W) frames and (T, 2, 2) points -> list of (H*u, W*u, 3) uint8 images with the overlay."""
    low, high = np.percentile(frames, [1, 99.5])
    scaled = np.clip((frames - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    images = []
    for frame, points in zip(scaled, points_px):
        big = np.kron(frame, np.ones((upscale, upscale), np.uint8))
        rgb = np.repeat(big[:, :, None], 3, axis=2)
        pts = (points + 0.5) * upscale - 0.5
        _draw_line(rgb, pts[0], pts[1], np.array([255, 220, 0]))
        for k in range(2):
            _draw_disc(rgb, pts[k, 0], pts[k, 1], 2.5 * upscale / 2 + 2, COLOURS[k])
        images.append(rgb)
    return images


def write_movies(frames: np.ndarray, points_px: np.ndarray, times_s: np.ndarray, stem: Path | str) -> list[Path]:
    """Write ``stem.gif`` (always) and ``stem.mp4`` (when an encoder is available); returns the paths."""
    import imageio.v2 as imageio

    images = overlay_frames(frames, points_px)
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.04
    stem = Path(stem)
    written = []
    gif = stem.with_suffix(".gif")
    imageio.mimsave(gif, images, duration=step * 2, loop=0)  # shown at half speed
    written.append(gif)
    mp4 = stem.with_suffix(".mp4")
    try:
        import imageio_ffmpeg  # noqa: F401  (the encoder; without it imageio writes no real MP4)

        height, width = images[0].shape[:2]
        padded = [np.pad(im, ((0, height % 2), (0, width % 2), (0, 0))) for im in images]
        imageio.mimsave(mp4, padded * 3, fps=max(1.0, 0.5 / step), macro_block_size=1)
        if mp4.stat().st_size > 1024:
            written.append(mp4)
        else:
            mp4.unlink()
    except Exception:  # no working encoder: the GIF is enough
        mp4.unlink(missing_ok=True)
    return written
