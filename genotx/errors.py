"""Exceptions that the command line turns into one-line messages.

`InputError` (bad input or bad usage) exits with status 2; any other exception
is an internal error and exits with status 1.
"""


class GenotxError(Exception):
    """Base class of errors that carry a user-facing message."""

    exit_code = 1


class InputError(GenotxError):
    """Bad input data, a bad file or a bad combination of options (exit 2)."""

    exit_code = 2


class OutputError(GenotxError):
    """Output could not be written: a full disk, a closed stdout, an unwritable file (exit 1)."""

    exit_code = 1
