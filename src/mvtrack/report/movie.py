"""Overlay movies: every frame with the two MV points and the MV line drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLOURS = (np.array([255, 60, 60]), np.array([60, 200, 255]))


def _draw_disc(rgb, x, y, radius, colour):
    """A ring of ``radius`` px around (x, y), drawn only in the box that holds it."""
    height, width = rgb.shape[:2]
    top, left = max(int(y - radius - 1), 0), max(int(x - radius - 1), 0)
    bottom, right = min(int(y + radius + 2), height), min(int(x + radius + 2), width)
    if top >= bottom or left >= right:
        return
    rows, cols = np.ogrid[top:bottom, left:right]
    distance2 = (cols - x) ** 2 + (rows - y) ** 2
    ring = (distance2 <= radius**2) & (distance2 >= (radius - 1.2) ** 2)
    rgb[top:bottom, left:right][ring] = colour


def _draw_line(rgb, p, q, colour):
    n = int(np.ceil(np.hypot(*(q - p)) * 2)) + 1
    t = np.linspace(0, 1, n)[:, None]
    xy = np.round(p + t * (q - p)).astype(int)
    inside = (xy[:, 1] >= 0) & (xy[:, 1] < rgb.shape[0]) & (xy[:, 0] >= 0) & (xy[:, 0] < rgb.shape[1])
    rgb[xy[inside, 1], xy[inside, 0]] = colour


def overlay_frames(frames: np.ndarray, points_px: np.ndarray, upscale: int = 2) -> list[np.ndarray]:
    """(T, H, W) frames and (T, 2, 2) points -> list of (H*u, W*u, 3) uint8 images with the overlay."""
    low, high = np.percentile(frames, [1, 99.5])
    scaled = np.clip((frames - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    images = []
    for frame, points in zip(scaled, points_px):
        big = frame.repeat(upscale, axis=0).repeat(upscale, axis=1)
        rgb = np.repeat(big[:, :, None], 3, axis=2)
        pts = (points + 0.5) * upscale - 0.5
        _draw_line(rgb, pts[0], pts[1], np.array([255, 220, 0]))
        for k in range(2):
            _draw_disc(rgb, pts[k, 0], pts[k, 1], 2.5 * upscale / 2 + 2, COLOURS[k])
        images.append(rgb)
    return images


MOVIE_FORMATS = ("mp4", "gif")


def write_movies(frames: np.ndarray, points_px: np.ndarray, times_s: np.ndarray, stem: Path | str,
                 formats: tuple[str, ...] = ("mp4",)) -> list[Path]:
    """Write the overlay movie as ``stem.mp4`` and/or ``stem.gif`` (frames drawn once for both), shown
    at half speed. Without a working MP4 encoder a GIF is written instead. Returns the paths."""
    import imageio.v2 as imageio

    unknown = set(formats) - set(MOVIE_FORMATS)
    if unknown:
        raise ValueError(f"movie formats are {MOVIE_FORMATS}, got {sorted(unknown)}")
    images = overlay_frames(frames, points_px)
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 0.04
    stem = Path(stem)
    written = []
    want_gif = "gif" in formats
    if "mp4" in formats:
        mp4 = _write_mp4(images, step, stem.with_suffix(".mp4"))
        if mp4 is None:
            want_gif = True
        else:
            written.append(mp4)
    if want_gif:
        gif = stem.with_suffix(".gif")
        imageio.mimsave(gif, images, duration=step * 2, loop=0)
        written.append(gif)
    return written


def _write_mp4(images: list[np.ndarray], step_s: float, path: Path) -> Path | None:
    """H.264 through imageio-ffmpeg; None when no encoder works here."""
    import imageio.v2 as imageio

    try:
        import imageio_ffmpeg  # noqa: F401  (the encoder; without it imageio writes no real MP4)

        height, width = images[0].shape[:2]
        padded = [np.pad(im, ((0, height % 2), (0, width % 2), (0, 0))) for im in images]
        # ultrafast: 8x quicker to encode than x264's default, for a somewhat larger file
        imageio.mimsave(path, padded, fps=max(1.0, 0.5 / step_s), macro_block_size=1,
                        ffmpeg_params=["-preset", "ultrafast", "-threads", "1"])
        if path.stat().st_size > 1024:
            return path
    except Exception:  # noqa: BLE001 - no working encoder
        pass
    path.unlink(missing_ok=True)
    return None
