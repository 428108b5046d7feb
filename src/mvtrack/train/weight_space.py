"""Weight-space interpolation between a network and its fine-tuned version (WiSE-FT).

Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022): the straight line between the
weights before and after fine-tuning often keeps most of the fine-tuning's gain on the new domain while
giving back most of what it cost on the old one. Here: between a stage 2 trained on synthetic cines and
the same network after shift consistency on unlabelled real cines (issue 13, lever 5).
"""

from __future__ import annotations


def interpolate_state_dicts(base: dict, tuned: dict, alpha: float) -> dict:
    """``(1 - alpha) * base + alpha * tuned`` for every floating-point tensor (alpha 0: base, 1: tuned),
    in float32; integer tensors (BatchNorm's ``num_batches_tracked``) are taken from ``base``. Both
    state dicts must hold the same keys and shapes."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if base.keys() != tuned.keys():
        raise ValueError(f"the two networks differ in their parameters: {sorted(base.keys() ^ tuned.keys())[:5]}")
    mixed = {}
    for name, base_tensor in base.items():
        tuned_tensor = tuned[name]
        if base_tensor.shape != tuned_tensor.shape:
            raise ValueError(f"{name}: shape {tuple(base_tensor.shape)} against {tuple(tuned_tensor.shape)}")
        if base_tensor.is_floating_point():
            mixed[name] = (1.0 - alpha) * base_tensor.float() + alpha * tuned_tensor.float()
        else:
            mixed[name] = base_tensor.clone()
    return mixed
