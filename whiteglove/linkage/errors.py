"""The error linkage raises when it cannot link the records safely."""


class LinkageError(RuntimeError):
    """The model cannot be built or run safely on this data."""
