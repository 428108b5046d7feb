"""Clinical metrics of MV plane motion (pure NumPy/SciPy): displacement, velocity, MAPSE, s', e', a'."""

from mvtrack.metrics.clinical import ClinicalMetrics, clinical_metrics
from mvtrack.metrics.curves import (
    combine_views,
    displacement_mm,
    resample_periodic,
    velocity_cm_s,
)

__all__ = [
    "ClinicalMetrics", "clinical_metrics", "combine_views", "displacement_mm",
    "resample_periodic", "velocity_cm_s",
]
