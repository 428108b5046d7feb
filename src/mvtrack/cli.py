"""The ``mvtrack`` command line: argument parsing only; the work lives in the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mvtrack.errors import MvtrackError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Track the mitral valve insertion points in long-axis cardiac MRI cines; report MAPSE and s', e', a'.",
)


@app.callback()
def _root() -> None:
    """Track the mitral valve insertion points in long-axis cardiac MRI cines; report MAPSE and s', e', a'."""


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def info(
    paths: list[Path] = typer.Argument(..., help="Study or series folders, DICOM, NIfTI or .npz files."),
    view: Optional[str] = typer.Option(None, help="Force the view of every cine: 2CH or 4CH."),
    pixel_spacing: Optional[float] = typer.Option(None, help="Pixel spacing in mm for DICOM without PixelSpacing."),
) -> None:
    """List the cines found: frames, size, pixel spacing, RR, view and how the view was found."""
    from mvtrack.io import read_cines

    try:
        cines = read_cines(paths, view=view, pixel_spacing_mm=pixel_spacing)
    except MvtrackError as error:
        _fail(error)
    for cine in cines:
        typer.echo(cine.summary())
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
) -> None:
    """Write synthetic long-axis cines with their ground-truth MV points (truth.json per subject)."""
    from rich.progress import Progress

    from mvtrack.synth.writer import FORMATS, write_subjects

    if format not in FORMATS:
        _fail(ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}"))
    with Progress(transient=True) as progress:
        task = progress.add_task("synthesising", total=subjects)
        folders = write_subjects(out_dir, subjects, seed, format, workers, start,
                                 progress=lambda: progress.advance(task))
    typer.echo(f"wrote {len(folders)} subjects to {out_dir}")


@app.command()
def demo(out: Path = typer.Option(Path("demo_out"), help="Where the demo writes its report.")) -> None:
    """Run mvtrack on the built-in real study (one Siemens patient, 2CH and 4CH) and print the headline numbers."""
    from importlib.resources import files

    from mvtrack.io import read_cines

    sample = Path(str(files("mvtrack") / "data" / "mvnet-sample"))
    typer.echo(f"Built-in study: {sample}")
    for cine in read_cines(sample):
        typer.echo("  " + cine.summary())


def main() -> None:  # pragma: no cover - entry point used by `python -m mvtrack`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
