"""Errors of the feed sources (under ``StreamsError``, the package's root)."""

from __future__ import annotations

from streams.exceptions import StreamsError


class SourceError(StreamsError):
    """A poll of a feed failed; the message is what the source health shows."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds the server asked us to wait (429, 503)


class FetchError(SourceError):
    """The feed could not be fetched (network, HTTP status, limits, policy)."""


class FetchStopped(FetchError):
    """The fetch was abandoned because the scheduler is stopping: no fault of the feed."""
