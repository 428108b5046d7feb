"""Ordering the two MV points by what the image shows, and naming them from the scan geometry.

In a 2CH image nothing in the pixels says reliably which point is anterior: a cine may be displayed
mirrored, and the anatomy on both sides of the LV looks alike. So the 2CH networks are trained to
return the points in *image order*: looking from the MV toward the apex, point 0 is on the left
(for a cine displayed with the apex down, the point with the smaller x). The names are then decided
from the DICOM orientation: the anterior 2CH point is the one further anterior-superior in the
patient (LPS: -y, +z). The 4CH networks keep anatomical order (the RV marks the septal side); the
same geometric rule (lateral = further left-posterior, LPS +x, +y) is used as a check.
"""

from __future__ import annotations

import numpy as np

#: Views whose networks are trained in image order rather than anatomical order.
IMAGE_ORDER_VIEWS = ("2CH",)

#: Patient direction (LPS) toward the first named point of each view.
FIRST_POINT_DIRECTION_LPS = {
    "2CH": np.array([0.0, -1.0, 1.0]) / np.sqrt(2),  # anterior and superior
    "4CH": np.array([1.0, 1.0, 0.0]) / np.sqrt(2),  # left (lateral) and posterior
}


def order_by_image(points_px: np.ndarray) -> np.ndarray:
    """(T, 2, 2) points of one cine -> the same points, swapped where needed so that, looking from
    the first frame's MV centre toward the apex (decided from the motion), point 0 is on the left.

    Pixel axes may be scaled (stage-1 images): the rule only uses signs, which positive scaling keeps.
    """
    from mvtrack.geometry.standardise import apex_normal_mm

    points_px = np.asarray(points_px, dtype=np.float64)
    apex = apex_normal_mm(points_px, (1.0, 1.0))
    offset = points_px[0, 0] - points_px[0].mean(axis=0)
    # "Left" of the apex direction in an image whose y axis points down: cross(apex, offset) > 0
    # (apex down: the point with the smaller x). The standardisation then needs no mirror.
    left_first = apex[0] * offset[1] - apex[1] * offset[0] > 0
    return points_px if left_first else points_px[:, ::-1].copy()


def first_point_index(points_px: np.ndarray, orientation: np.ndarray | None, view: str) -> int | None:
    """Which of the two (image-ordered) points is the first named one (anterior / lateral), from the
    DICOM ImageOrientationPatient; None when the orientation is unknown or the points are too close
    to tell apart along that patient direction."""
    if orientation is None or view not in FIRST_POINT_DIRECTION_LPS:
        return None
    row_cosine, column_cosine = np.asarray(orientation[:3], float), np.asarray(orientation[3:6], float)
    direction = FIRST_POINT_DIRECTION_LPS[view]
    image_direction = np.array([direction @ row_cosine, direction @ column_cosine])  # per pixel step (x, y)
    if np.linalg.norm(image_direction) < 0.2:  # the patient direction is nearly normal to the image
        return None
    projection = (points_px.mean(axis=0) @ image_direction)
    return int(np.argmax(projection))
