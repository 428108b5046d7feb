"""Synthetic 2CH / 4CH (and, on request, 3CH) cines with ground-truth MV points in every frame.

Two ideas make synthetic training carry over to real scans: anatomy that moves like a heart
(an MRXCAT-like phantom, here 2D and analytic: :mod:`mvtrack.synth.anatomy` and
:mod:`mvtrack.synth.motion`), and domain randomisation of everything that differs between scanners
(SynthSeg-like: contrasts, resolution, noise, bias, artefacts). Each random range is listed in
``docs/SYNTHETIC.md``.

Pipeline per view: a label map on a grid twice as fine as the stored one (background once, the
heart each frame) -> intensities with textures -> coil bias and bSSFP banding -> k-space truncated
to the acquired resolution and zero-filled to the stored matrix (Gibbs ringing and zero-fill
blur come for free) -> wrap-around, ghosting -> complex noise, magnitude (Rician) -> 12-bit storage.

The work is split by what it does: :mod:`mvtrack.synth.scene` draws the heart, its motion, the torso
and the geometry; :mod:`mvtrack.synth.appearance` the scanner's look (contrasts, fields, acquisition,
storage); :mod:`mvtrack.synth.variants` the optional annulus and chest variants;
:mod:`mvtrack.synth.render` renders a view. This module makes subjects and keeps the public names
importable from ``mvtrack.synth.generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvtrack.synth.appearance import (  # noqa: F401
    RANDOM_CONTRAST_PROBABILITY,
    VENDORS,
    _acquire,
    _banding,
    _bias_field,
    _smooth_field,
    _tissue_intensities,
    stored_12bit,
)
from mvtrack.synth.motion import MotionParams
from mvtrack.synth.render import PATCH, SyntheticView, _unwarp, render_view  # noqa: F401
from mvtrack.synth.scene import (  # noqa: F401
    HeartPose,
    _apex_angle,
    _background_labels,
    _coronary_sides,
    _heart_axes,
    _heart_pose,
    _leaflet_opening,
    _patient_orientation,
    _sample_motion,
    _sample_shape,
)
from mvtrack.synth.variants import (  # noqa: F401
    DarkWalls,
    HingeLook,
    _busy_surroundings,
    _dark_walls,
    _hinge_look,
    _relaxed_base,
    chemical_shift_lines,
)


@dataclass
class SyntheticSubject:
    subject_id: str
    views: dict[str, SyntheticView]
    motion: MotionParams
    atrial_fibrillation: bool


# --------------------------------------------------------------------------------------------


def generate_subject(seed: int, index: int, views=("2CH", "4CH"), keep_fine_labels: bool = False,
                     fine: int = 2, random_contrast_probability: float = RANDOM_CONTRAST_PROBABILITY,
                     hinge_look_probability: float = 0.0, busy_probability: float = 0.0,
                     dark_wall_probability: float = 0.0, dark_groove_probability: float = 0.0,
                     relaxed_base_probability: float = 0.0, diastolic_groove_probability: float = 0.0,
                     diastolic_wall_probability: float = 0.0) -> SyntheticSubject:
    """One synthetic subject; deterministic for (seed, index).

    ``keep_fine_labels`` keeps label patches around the truth points (for tests); ``fine`` is the
    oversampling of the label grid (2 for data; larger to check the truth points precisely);
    ``random_contrast_probability``: the share of views with fully random tissue intensities;
    ``hinge_look_probability``: the share of views whose annulus looks as real ones often do
    (:func:`_hinge_look`; 0 for the shipped model's data); ``busy_probability``: the share of views
    whose chest fills the field of view and is crowded with small structures (:func:`_busy_surroundings`);
    ``dark_wall_probability``: the share of views with dark LA / RA walls and chemical-shift lines
    (:class:`DarkWalls`); ``dark_groove_probability``: the share of views whose AV-groove fat is as dark as
    the LV wall and reaches 8-20 mm past the MV line; ``relaxed_base_probability``: the share of views
    whose basal wall thins and runs on past the hinge out of systole (:func:`_relaxed_base`);
    ``diastolic_groove_probability``: the share of views with the dark groove out of systole only (as
    dark as the LV wall at end-diastole and in late diastole, fat at end-systole);
    ``diastolic_wall_probability``: the share of views whose LA / RA wall thickens by 1.5-4 mm and darkens
    to the LV wall's intensity out of systole (the atrium contracting), as drawn at end-systole.
    """
    # A 3CH comes after the 2CH and 4CH (each view draws from its own stream, by position), so adding
    # it leaves a subject's 2CH and 4CH as they were.
    views = tuple(sorted(views, key=lambda v: ("2CH", "4CH", "3CH").index(v)))
    rng = np.random.default_rng([seed, index])
    af = bool(rng.random() < 0.12)
    motion = _sample_motion(rng, af)
    pose = _heart_pose(np.random.default_rng([seed, index, 77]), views)
    rendered = {view: render_view(view, motion, af, np.random.default_rng([seed, index, i]), keep_fine_labels, fine, pose,
                                     random_contrast_probability, hinge_look_probability, busy_probability,
                                     dark_wall_probability, dark_groove_probability, relaxed_base_probability,
                                     diastolic_groove_probability, diastolic_wall_probability)
                for i, view in enumerate(views)}
    return SyntheticSubject(f"synth{seed:03d}_{index:04d}", rendered, motion, af)
