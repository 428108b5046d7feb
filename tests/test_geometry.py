from __future__ import annotations

import numpy as np
import pytest

from mvtrack.geometry import (
    CROP_SHAPE,
    Stage1Map,
    apex_normal_mm,
    standardisation_from_points,
)


def _gaussian_dot(shape, x, y, sigma=1.2):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def _centroid(image):
    image = np.clip(image - 0.2 * image.max(), 0, None)
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(cols * image).sum(), (rows * image).sum()]) / image.sum()


def _motion_points(p_left, p_right, apex_direction, n=12, amplitude=8.0):
    """(n, 2, 2) points moving toward ``apex_direction`` (px) and back over one cycle."""
    shift = amplitude * np.sin(np.linspace(0, np.pi, n)) ** 2
    base = np.array([p_left, p_right], dtype=float)
    return base[None] + shift[:, None, None] * np.asarray(apex_direction, float)[None, None]


def test_stage1_pixel_centres_and_inverse():
    stage1 = Stage1Map((200, 320))
    corners = np.array([[-0.5, -0.5], [319.5, 199.5]])
    np.testing.assert_allclose(stage1.to_stage1(corners), [[-0.5, -0.5], [159.5, 159.5]])
    points = np.random.default_rng(0).uniform(0, 200, (50, 2))
    np.testing.assert_allclose(stage1.to_original(stage1.to_stage1(points)), points, atol=1e-9)


def test_stage1_dot_lands_where_the_map_says():
    shape = (208, 168)
    x, y = 120.3, 60.7
    image = _gaussian_dot(shape, x, y, sigma=2.0)[None]
    stage1 = Stage1Map(shape)
    resized = stage1.resize(image)[0]
    assert resized.shape == (160, 160)
    np.testing.assert_allclose(_centroid(resized), stage1.to_stage1(np.array([x, y])), atol=0.5)


@pytest.mark.parametrize("seed", range(5))
def test_standardise_roundtrip_is_identity(seed):
    rng = np.random.default_rng(seed)
    left, right = rng.uniform(40, 160, 2), rng.uniform(40, 160, 2)
    angle = rng.uniform(0, 2 * np.pi)
    points = _motion_points(left, right, [np.cos(angle), np.sin(angle)])
    spacing = tuple(rng.uniform(1.0, 2.2, 2))
    std = standardisation_from_points(points, spacing)
    test_points = rng.uniform(-50, 250, (100, 2))
    np.testing.assert_allclose(std.to_original(std.to_standard(test_points)), test_points, atol=1e-6)


# Four quadrant orientations of the MV line, each with the apex on either side (both flips).
CASES = [
    (left, right)
    for left, right in [((60, 80), (100, 80)), ((100, 60), (100, 100)), ((100, 80), (60, 80)), ((80, 100), (80, 60))]
]


@pytest.mark.parametrize("left,right", CASES)
@pytest.mark.parametrize("apex_sign", [1, -1])
@pytest.mark.parametrize("spacing", [(1.6, 1.6), (1.3, 2.0)])
def test_standardise_orientation_rules(left, right, apex_sign, spacing):
    left, right = np.array(left, float), np.array(right, float)
    line = right - left
    apex_px = apex_sign * np.array([-line[1], line[0]]) / np.linalg.norm(line)
    points = _motion_points(left, right, apex_px)
    std = standardisation_from_points(points, spacing)
    mapped = std.to_standard(points)
    # MV centre of the first frame at the crop centre; the line horizontal; named point on the left
    centre = mapped[0].mean(axis=0)
    np.testing.assert_allclose(centre, [(CROP_SHAPE[1] - 1) / 2, (CROP_SHAPE[0] - 1) / 2], atol=1e-9)
    assert mapped[0, 0, 1] == pytest.approx(mapped[0, 1, 1], abs=1e-9)
    assert mapped[0, 0, 0] < mapped[0, 1, 0]
    # the systolic motion goes down the image (toward the apex)
    assert mapped[6].mean(axis=0)[1] > centre[1] + 1
    # scale: 0.75 mm pixels
    length_mm = np.linalg.norm(line * np.array([spacing[1], spacing[0]]))
    assert mapped[0, 1, 0] - mapped[0, 0, 0] == pytest.approx(length_mm / 0.75)


@pytest.mark.parametrize("spacing", [(1.8, 1.8), (1.4, 2.1)])
def test_standardise_dot_lands_within_half_a_pixel(spacing):
    shape = (150, 170)
    left, right = np.array([70.0, 60.0]), np.array([100.0, 75.0])
    points = _motion_points(left, right, [0.3, -0.95])
    std = standardisation_from_points(points, spacing)
    dot = np.array([92.4, 55.2])
    image = _gaussian_dot(shape, *dot, sigma=1.5)
    warped = std.warp(image[None])[0]
    assert warped.shape == CROP_SHAPE
    np.testing.assert_allclose(_centroid(warped), std.to_standard(dot), atol=0.5)


def test_apex_normal_follows_motion():
    points = _motion_points((50, 50), (90, 50), (0, -1))  # apex up in the image
    np.testing.assert_allclose(apex_normal_mm(points, (1.5, 1.5)), [0, -1], atol=1e-12)
    points = _motion_points((50, 50), (90, 50), (0, 1))
    np.testing.assert_allclose(apex_normal_mm(points, (1.5, 1.5)), [0, 1], atol=1e-12)


def test_standardisation_serialises():
    points = _motion_points((50, 50), (90, 60), (0.2, 1))
    std = standardisation_from_points(points, (1.5, 1.7))
    again = type(std).from_dict(std.to_dict())
    np.testing.assert_allclose(again.matrix, std.matrix)
    assert again.out_shape == std.out_shape


def test_collapsed_first_guess_is_oriented_by_the_motion():
    # both points nearly on top of each other, moving toward the lower right (the apex)
    points = _motion_points((60.0, 60.0), (61.0, 60.5), (0.6, 0.8))
    std = standardisation_from_points(points, (1.5, 1.5))
    mapped = std.to_standard(points)
    centre = mapped[:, :, :].mean(axis=1)
    motion = centre[6] - centre[0]
    assert motion[1] > 0 and abs(motion[0]) < 1e-6 * max(1.0, abs(motion[1])) + 1e-6  # straight down
    assert mapped[0, 0, 0] <= mapped[0, 1, 0]


def test_pixels_to_patient_by_hand_and_back():
    from mvtrack.geometry.patient import patient_mm_to_pixels, pixels_to_patient_mm

    # Rows run along +x (L), columns down along -z (feet): a coronal-like plane at y = 20 mm.
    orientation = np.array([1.0, 0, 0, 0, 0, -1.0])
    position = np.array([-100.0, 20.0, 50.0])
    spacing = (2.0, 1.5)  # (row, col) mm
    # Pixel (x=10, y=4): 10 columns * 1.5 mm along +x, 4 rows * 2 mm along -z.
    np.testing.assert_allclose(pixels_to_patient_mm(np.array([10.0, 4.0]), orientation, position, spacing),
                               [-85.0, 20.0, 42.0])
    points = np.random.default_rng(1).uniform(0, 200, (7, 2))
    back = patient_mm_to_pixels(pixels_to_patient_mm(points, orientation, position, spacing), orientation, position, spacing)
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_two_planes_meet_on_the_line_both_contain():
    from mvtrack.geometry.patient import plane_intersection, plane_normal

    axial = (np.array([1.0, 0, 0, 0, 1, 0]), np.array([0.0, 0, 10.0]))  # z = 10
    tilted = (np.array([0.0, 1, 0, 0, 0, 1]) , np.array([5.0, 0, 0]))  # x = 5
    point, direction = plane_intersection(*axial, *tilted)
    np.testing.assert_allclose(point[[0, 2]], [5.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(np.abs(direction), [0, 1, 0], atol=1e-9)
    for orientation, position in (axial, tilted):
        assert abs(plane_normal(orientation) @ (point + 30 * direction - position)) < 1e-9
    assert plane_intersection(*axial, np.array([1.0, 0, 0, 0, 1, 0.01]), np.array([0.0, 0, 0])) is None


def test_the_sparse_cubic_warp_equals_scipys_spline_interpolation():
    """warp_frames' one-matrix cubic warp gives what scipy.ndimage.affine_transform (order 3, mode
    nearest) gives, inside the image and beyond its edges (clamped), for a rotated, scaled, mirrored map."""
    from scipy import ndimage

    from mvtrack.geometry.affine import spline_coefficients, warp_frames

    frames = ndimage.gaussian_filter(np.random.default_rng(3).random((3, 50, 64)), (0, 1.5, 1.5)) * 100
    angle = np.deg2rad(33.0)
    source_to_target = np.array([[-1.3 * np.cos(angle), 1.3 * np.sin(angle), 70.0],
                                 [1.1 * np.sin(angle), 1.1 * np.cos(angle), -12.0], [0.0, 0.0, 1.0]])
    warped = warp_frames(frames, source_to_target, (70, 90))
    inverse = np.linalg.inv(source_to_target)
    swap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    rc = swap @ inverse @ swap
    for frame, coefficients, got in zip(frames, spline_coefficients(frames), warped):
        expected = ndimage.affine_transform(coefficients, rc[:2, :2], offset=rc[:2, 2], output_shape=(70, 90), order=3,
                                            mode="nearest", prefilter=False)
        np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(frame).max())
