"""Exception types whose messages a clinician or researcher can act on.

The CLI turns any :class:`MvtrackError` into one line on stderr and a non-zero exit.
"""


class MvtrackError(Exception):
    """Base class of every error mvtrack raises on purpose."""


class CineError(MvtrackError):
    """A cine could not be read; the message names the file and the problem."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        # Header bytes can hold anything; the message stays one printable line.
        self.problem = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(problem))
        super().__init__(f"{self.path}: {self.problem}")


class ModelError(MvtrackError):
    """A model folder or weight file is missing, corrupt or does not match."""


class AnalysisError(MvtrackError):
    """The analysis of a study could not produce a result."""
