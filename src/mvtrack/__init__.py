"""mvtrack: automatic mitral valve insertion point tracking in long-axis cardiac MRI cines.

Heavy modules (networks, pipeline) are imported lazily so that ``mvtrack --help`` is instant.
"""

from mvtrack._version import __version__

__all__ = ["__version__", "analyze"]


def analyze(path, **kwargs):
    """Analyse one study folder or file list; see :func:`mvtrack.pipeline.analyze_study`."""
    from mvtrack.pipeline.study import analyze_study

    return analyze_study(path, **kwargs)
