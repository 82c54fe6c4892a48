"""Exceptions that the command line turns into one-line messages.

`InputError` (bad input or bad usage) exits with status 2; any other exception
is an internal error and exits with status 1.
"""

import errno


class GenotxError(Exception):
    """Base class of errors that carry a user-facing message."""

    exit_code = 1


class InputError(GenotxError):
    """Bad input data, a bad file or a bad combination of options (exit 2)."""

    exit_code = 2


class OutputError(GenotxError):
    """Output could not be written: a full disk, a closed stdout, an unwritable file (exit 1)."""

    exit_code = 1


# A path that cannot be used as given is a usage error (2); other OS errors (a
# full disk, an I/O error) are failures of the environment (1).
BAD_PATH_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                             errno.ENAMETOOLONG, errno.EROFS, errno.EEXIST, errno.ELOOP})


def output_error(exc: OSError, path: str) -> GenotxError:
    """One-line error for `exc`, met while writing `path`: ``path: No space left on device``."""
    error = OutputError(f"{path}: {exc.strerror or exc}")
    if exc.errno in BAD_PATH_ERRNOS:
        error.exit_code = 2
    return error
