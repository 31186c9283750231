"""The dashboard package's errors: one root, one line each."""


class DashboardError(Exception):
    """Root of every error raised by ``dashboard``."""
