"""Cost of the critic QC check: the analysis of the built-in sample (no start search) with and without it,
alternating in one process, median of 3 (2 ONNX Runtime threads).

    .venv/bin/python benchmarks/critic_speed.py
"""
import time, numpy as np
from pathlib import Path
from importlib.resources import files
from mvtrack.models.store import ModelSet
from mvtrack.pipeline.study import analyze_study
from mvtrack.io import read_cines
sample = Path(str(files('mvtrack')/'data'/'mvnet-sample'))
models = ModelSet(threads=2)
real_critic = ModelSet.critic
analyze_study(sample, models=models, search=False)
t = {'with': [], 'without': []}
for _ in range(3):
    for k in ('with', 'without'):
        ModelSet.critic = real_critic if k == 'with' else (lambda self, view: None)
        s = time.perf_counter(); analyze_study(sample, models=models, search=False); t[k].append(time.perf_counter() - s)
print({k: round(float(np.median(v)), 3) for k, v in t.items()}, 'ratio', round(np.median(t['with'])/np.median(t['without']), 2))
