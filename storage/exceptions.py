"""The storage package's errors: one root, one line each, messages name what was wrong."""


class StorageError(Exception):
    """Root of every error raised by ``storage``."""


class InvalidDatabaseURL(StorageError):
    """The database URL cannot be parsed or names an unsupported backend."""


class DatabaseUnavailable(StorageError):
    """The database could not be reached within the retry budget."""


class DatabaseRefused(StorageError):
    """The server answered but refused the connection for a reason that retrying cannot
    fix: the URL names a database or credentials the server does not accept."""


class DatabaseMissing(DatabaseRefused):
    """The database named in the URL does not exist on the server (SQLSTATE 3D000)."""


class DatabaseAuthFailed(DatabaseRefused):
    """The server refused the URL's user or password (SQLSTATE 28P01 / 28000)."""


class MigrationError(StorageError):
    """A schema migration command failed, or models and migrations disagree."""


class RejectedRecord(StorageError):
    """The database refused a record for its content (not for an outage)."""
