"""The classifier package's errors: one root, one line each."""


class ClassifierError(Exception):
    """Root of every error raised by ``classifier``."""


class LabelMapError(ClassifierError):
    """A label map cannot be parsed, or a model's labels cannot be mapped to the canonical ones."""


class DataError(ClassifierError):
    """A labelled CSV cannot be read: missing file or column, bad encoding, unknown label."""


class ModelLoadError(ClassifierError):
    """A model directory or id is missing, corrupt or unusable."""


class InputError(ClassifierError):
    """Text handed to the engine is not a string (e.g. ``None``)."""


class TrainingError(ClassifierError):
    """Fine-tuning cannot start or cannot finish (bad hyper-parameter, unwritable output)."""
