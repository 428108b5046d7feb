import sys, json; sys.path.insert(0, 'benchmarks')
import numpy as np
from pathlib import Path
from importlib.resources import files
from mvtrack.models.store import ModelSet
from mvtrack.pipeline.study import analyze_cines, analyze_study
from mvtrack.pipeline.track import stage2_passes_from
from mvtrack.train.consistency import WithStage2
from mvtrack.synth.generator import generate_subject
shipped = ModelSet()
critics = {'2CH': ModelSet('runs/v3model'), '4CH': ModelSet('runs/ct_s300/model')}
def disagreement(cine, track):
    from mvtrack.pipeline.track import critic_disagreement_mm
    d = critic_disagreement_mm(cine, critics[cine.view].network(cine.view, 2), track)
    return float(np.median(d)), float(d.mean()), float(d.max())
    view = cine.view
    critic = WithStage2(shipped, {view: critics[view].network(view, 2)})
    passes, _, _ = stage2_passes_from(cine, critic, track.raw_px, 1, confidence=False)
    mm = np.array([cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0]])
    d = np.linalg.norm((passes[-1] - track.raw_px) * mm, axis=-1).mean(axis=1)  # (T,)
    return float(np.median(d)), float(d.mean()), float(d.max())
def truth_err(track, truth, cine):
    mm = np.array([cine.pixel_spacing_mm[1], cine.pixel_spacing_mm[0]])
    return float(np.linalg.norm((track.points_px - truth) * mm, axis=-1).mean())
rows = []
what = sys.argv[1]
if what.startswith('synth'):
    seed, n = int(sys.argv[2]), int(sys.argv[3])
    for i in range(n):
        subj = generate_subject(seed, i, views=('2CH', '4CH'))
        cines = [v.cine for v in subj.views.values()]
        st = analyze_cines(cines, f's{i}', shipped)
        for view, v in subj.views.items():
            rows.append((f'{seed}/{i}', view, *disagreement(st.cines[view], st.tracks[view]), truth_err(st.tracks[view], v.points_px, st.cines[view])))
else:
    from real_scans import run_reference_study
    from mvtrack.evaluate.reference import score_view
    ref, st, _ = run_reference_study(Path('data/bivme-patient1'), shipped, 3, True)
    for view in st.tracks:
        s = score_view(st.tracks[view].points_px, st.cines[view].times_s, ref['views'][view])
        rows.append(('bivme', view, *disagreement(st.cines[view], st.tracks[view]), s['mean_mm']))
    st = analyze_study(Path(str(files('mvtrack') / 'data' / 'mvnet-sample')), models=shipped)
    for view in st.tracks:
        rows.append(('mvnet', view, *disagreement(st.cines[view], st.tracks[view]), float('nan')))
for r in rows: print('%-10s %s  median %.2f  mean %.2f  max %.2f  err %.2f' % r)
json.dump(rows, open(f'runs/critic_{what}_{"_".join(sys.argv[2:])}.json', 'w'))
