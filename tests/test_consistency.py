"""Shift-consistency adaptation of stage 2 (mvtrack.train.consistency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY, with_critics

from mvtrack.models.network import NetworkConfig, build_network
from mvtrack.models.store import WithStage2
from mvtrack.synth.generator import generate_subject
from mvtrack.train.consistency import ConsistencyConfig, TorchStage2, adapt_stage2


def _tiny_stage2(seed: int = 0):
    torch.manual_seed(seed)
    config = NetworkConfig(view="4CH", stage=2, head="softargmax", **TINY)
    return config, build_network(config).eval()


def test_adaptation_lowers_the_disagreement_between_two_placements_of_the_crop():
    view = generate_subject(4242, 0, views=("4CH",)).views["4CH"]
    _, model = _tiny_stage2()
    # a large rate so that a few steps of a tiny random network show the loss going down
    config = ConsistencyConfig(steps=30, frames_per_step=4, learning_rate=3e-3)
    losses = adapt_stage2(model, [(view.cine, view.points_px)], config, seed=1)
    assert len(losses) == 30 and np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_the_synthetic_anchor_is_used_and_batchnorm_statistics_are_kept():
    view = generate_subject(4242, 1, views=("4CH",)).views["4CH"]
    _, model = _tiny_stage2()
    _, twin = _tiny_stage2()
    running = [m.running_mean.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    rng = np.random.default_rng(0)
    anchor = {"images": rng.normal(size=(6, 118, 162)).astype(np.float16),
              "points": rng.uniform(20, 100, size=(6, 2, 2)).astype(np.float32)}
    config = ConsistencyConfig(steps=2, frames_per_step=3, learning_rate=1e-3)
    adapt_stage2(model, [(view.cine, view.points_px)], config, seed=1, anchor=anchor)
    adapt_stage2(twin, [(view.cine, view.points_px)], config, seed=1)
    after = [m.running_mean for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(running, after))
    differs = [not torch.equal(a, b) for a, b in zip(model.state_dict().values(), twin.state_dict().values())]
    assert any(differs)  # the anchor's gradient changed the weights


def test_only_the_named_layers_learn():
    view = generate_subject(4242, 2, views=("4CH",)).views["4CH"]
    _, model = _tiny_stage2()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    config = ConsistencyConfig(steps=2, frames_per_step=3, learning_rate=1e-2, trainable_prefixes=("backbone.layer1",))
    adapt_stage2(model, [(view.cine, view.points_px)], config, seed=1)
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert moved and all(name.startswith("backbone.layer1") for name in moved)
    with pytest.raises(ValueError):
        adapt_stage2(model, [(view.cine, view.points_px)], ConsistencyConfig(steps=1, trainable_prefixes=("nothing",)))


def test_appearance_changes_the_crops_look_not_their_placement():
    from mvtrack.train.augment import AugmentConfig
    from mvtrack.train.consistency import _crops_and_inverse

    view = generate_subject(4242, 3, views=("4CH",)).views["4CH"]
    frames = np.array([0, 5])
    plain, inverse = _crops_and_inverse(view.cine, view.points_px, frames, ConsistencyConfig(), np.random.default_rng(7))
    looks = ConsistencyConfig(appearance=AugmentConfig(gin_probability=1.0, bigaug_probability=1.0))
    changed, same_inverse = _crops_and_inverse(view.cine, view.points_px, frames, looks, np.random.default_rng(7))
    assert changed.shape == plain.shape and np.allclose(inverse, same_inverse)
    assert not np.allclose(changed, plain)


def test_with_stage2_replaces_only_the_views_it_is_given(tiny_model_dir):
    from mvtrack.models.store import ModelSet

    models = ModelSet(tiny_model_dir)
    config, model = _tiny_stage2()
    replaced = TorchStage2(model, config.input_shape)
    combined = WithStage2(models, {"4CH": replaced})
    assert combined.network("4CH", 2) is replaced
    assert combined.network("4CH", 1) is models.network("4CH", 1)
    assert combined.network("2CH", 2) is models.network("2CH", 2)
    assert combined.critic("4CH") is None  # a replaced stage 2 has no calibrated critic
    crops = np.random.default_rng(0).normal(size=(3, 118, 162)).astype(np.float32)
    assert replaced.predict(crops).shape == (3, 2, 2)


def test_an_adapted_analysis_says_what_was_adapted_and_changes_stage_2_only(tiny_model_dir):
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.adapt import AdaptConfig
    from mvtrack.pipeline.study import analyze_cines

    subject = generate_subject(4242, 2)
    cines = [v.cine for v in subject.views.values()]
    models = ModelSet(tiny_model_dir)
    plain = analyze_cines(cines, "s", models, stage2_passes=1, search=False)
    config = AdaptConfig(ConsistencyConfig(steps=3, frames_per_step=2, learning_rate=1e-2), anchor_subjects=1, tries=2)
    adapted = analyze_cines(cines, "s", models, stage2_passes=1, search=False, adapt=config)
    adaptation = adapted.result["adaptation"]
    assert set(adaptation["views"]) == {"2CH", "4CH"}
    # the synthetic study has DICOM geometry in both views: the tries are ranked by the MV-plane residual
    assert adaptation["chosen_by"].startswith("MV-plane residual")
    assert [t["seed"] for t in adaptation["tries"]] == [0, 1]
    best = min(adaptation["tries"], key=lambda t: t["score"])
    assert adaptation["chosen_seed"] == best["seed"]
    assert best["score"] == round(adapted.result["mv_plane"]["residual_median_mm"], 3)
    for view, note in adaptation["views"].items():
        assert note["config"]["steps"] == 3 and note["seconds"] > 0
        assert adapted.result["models"][f"{view.lower()}_stage2"].endswith("adapted to this study")
        ours, theirs = (np.asarray(s.result["views"][view]["passes_px"][name])
                        for s in (adapted, plain) for name in ["stage1"])
        assert np.array_equal(ours, theirs)  # stage 1 is not adapted
        moved = [np.asarray(s.result["views"][view]["passes_px"]["stage1+2"]) for s in (adapted, plain)]
        assert not np.allclose(*moved)
    assert "adaptation" not in plain.result


def test_tries_are_ranked_by_the_plane_residual_of_all_views_or_else_by_the_disagreement():
    """The plane of every tracked view, whether or not QC withholds a view's metrics (the study's own
    ``mv_plane`` leaves those out); one view gives no plane, and then the shift disagreement ranks."""
    from types import SimpleNamespace

    from mvtrack.pipeline.adapt import try_score
    from mvtrack.pipeline.plane import study_plane

    subject = generate_subject(4242, 2)
    cines = {view: v.cine for view, v in subject.views.items()}
    tracks = {view: SimpleNamespace(points_px=v.points_px) for view, v in subject.views.items()}
    notes = {"2CH": {"disagreement_after_mm": 1.0}, "4CH": {"disagreement_after_mm": 2.0}}
    plane, _ = study_plane(cines, {view: t.points_px for view, t in tracks.items()}, list(tracks))
    criterion, value = try_score(SimpleNamespace(cines=cines, tracks=tracks), notes)
    assert criterion == "MV-plane residual (median, mm)" and value == plane["residual_median_mm"] > 0
    one_view = SimpleNamespace(cines=cines, tracks={"2CH": tracks["2CH"]})
    criterion, value = try_score(one_view, notes)
    assert criterion.startswith("shift disagreement") and value == 1.5


def test_the_cli_option_reaches_the_analysis_as_a_number_of_tries():
    from mvtrack.pipeline.cohort import AnalysisOptions, _adapt_config

    assert _adapt_config(AnalysisOptions()) is None
    assert _adapt_config(AnalysisOptions(adapt_tries=2)).tries == 2


def test_weights_of_a_network_come_from_the_folder_that_holds_it(tiny_model_dir, tmp_path):
    import json
    import shutil

    from mvtrack.errors import ModelError
    from mvtrack.models.store import ModelSet, shipped_model_dir

    assert ModelSet(tiny_model_dir).weights_file("4CH", 2).parent == tiny_model_dir
    # a folder with only some networks falls back to the shipped model's for the others
    partial = tmp_path / "partial"
    shutil.copytree(tiny_model_dir, partial)
    manifest = json.loads((partial / "manifest.json").read_text())
    del manifest["networks"]["4ch_stage2"]
    (partial / "manifest.json").write_text(json.dumps(manifest))
    assert ModelSet(partial).weights_file("4CH", 2) == shipped_model_dir() / "4ch_stage2.pt"
    del manifest["networks"]["2ch_stage2"]["weights"]
    (partial / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="no PyTorch weights for 2ch_stage2"):
        ModelSet(partial).weights_file("2CH", 2)


def test_adapt_model_learns_on_unlabelled_studies_and_writes_a_model_folder(synthetic_root, tmp_path):
    """`mvtrack adapt-model`: stage 2 of the named view fine-tuned on the studies, stage 1 from the shipped model;
    an existing model folder is kept unless --force; a view the studies lack is one clear error."""
    import json

    from typer.testing import CliRunner

    from mvtrack.cli import app
    from mvtrack.models.store import ModelSet

    study = min(p for p in synthetic_root.iterdir() if p.is_dir())
    out = tmp_path / "site_model"
    args = ["adapt-model", str(study), "--out", str(out), "--view", "2CH", "--steps", "2", "--anchor-subjects", "1"]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["networks"]) == {"2ch_stage2"}
    record = manifest["shift_consistency"]
    assert record["config"]["steps"] == 2 and record["networks"]["2ch_stage2"]["cines"] == 1
    models, shipped = ModelSet(out), ModelSet()
    assert models.ids()["2ch_stage2"] != shipped.ids()["2ch_stage2"].replace(shipped.model_id, models.model_id)
    assert models.ids()["2ch_stage1"] == shipped.ids()["2ch_stage1"]  # falls back to the shipped stage 1
    # the shipped 2CH critic was calibrated against the shipped 2CH stage 2, not this one; the 4CH's check
    # (its ensemble's two networks against each other) still applies
    assert models.critic("2CH") is None
    assert len(models.network("4CH", 2).members) == 2

    before = (out / "manifest.json").read_bytes()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already there" in again.output
    assert (out / "manifest.json").read_bytes() == before

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    refused = CliRunner().invoke(app, ["adapt-model", str(study), "--out", str(busy), "--steps", "1"])
    assert refused.exit_code == 2 and "holds other files" in refused.output
    assert (busy / "notes.txt").read_text() == "mine"

    missing = CliRunner().invoke(app, ["adapt-model", str(study), "--out", str(tmp_path / "x"), "--view", "3CH",
                                       "--steps", "1", "--anchor-subjects", "0"])
    assert missing.exit_code == 2 and "no 3CH cine to learn from" in missing.output
    assert "Traceback" not in missing.output and not (tmp_path / "x" / "manifest.json").exists()


def test_a_view_qc_distrusted_before_adapting_stays_withheld_after(tiny_model_dir, tmp_path):
    """The adapted network has no second opinion (the critic was set against the unadapted one), so a
    view QC did not stand behind before the adaptation gives no metrics after it either."""
    from mvtrack.pipeline.adapt import AdaptConfig
    from mvtrack.pipeline.study import analyze_cines

    cines = [v.cine for v in generate_subject(77, 1).views.values()]
    models = with_critics(tiny_model_dir, tmp_path / "other", {"4CH": "2ch_stage2.onnx"})  # a critic that disagrees
    plain = analyze_cines(cines, "s", models, stage2_passes=1, search=False)
    assert "4CH" in plain.unreliable and plain.result["views"]["4CH"]["metrics"]["mapse_mm"] is None
    config = AdaptConfig(ConsistencyConfig(steps=2, frames_per_step=2, learning_rate=1e-2), anchor_subjects=1, tries=1)
    adapted = analyze_cines(cines, "s", models, stage2_passes=1, search=False, adapt=config)
    view = adapted.result["views"]["4CH"]
    assert view["critic_disagreement_mm"] is None  # no check ran on the adapted network
    assert view["metrics"]["mapse_mm"] is None and "before the adaptation" in view["metrics"]["reasons"]["mapse_mm"]
    assert any(r.startswith("4CH: not trusted before the adaptation") for r in adapted.result["qc"]["reasons"])
    assert "4CH" not in adapted.result["study_views"]
