"""The classifier package's errors: one root, one line each."""


class ClassifierError(Exception):
    """Root of every error raised by ``classifier``."""
