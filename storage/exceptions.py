"""The storage package's errors: one root, one line each, messages name what was wrong."""


class StorageError(Exception):
    """Root of every error raised by ``storage``."""


class InvalidDatabaseURL(StorageError):
    """The database URL cannot be parsed or names an unsupported backend."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached within the retry budget."""


class MigrationError(StorageError):
    """A schema migration command failed, or models and migrations disagree."""


class RejectedRecord(StorageError):
    """The database refused a record for its content (not for an outage)."""
