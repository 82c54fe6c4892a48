"""Shared plumbing of the subcommands: error handling and common options.

Every subcommand function is wrapped by `command`, which turns
`genotx.errors.GenotxError` into ``genotx: error: ...`` on stderr with the
error's exit code (2 for bad input/usage), ends quietly with status 0 on a
broken pipe (``genotx ... | head``), and reports anything else as an internal
error (status 1; ``--debug`` prints the traceback).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Callable, List, Optional

import typer

from genotx.errors import GenotxError, InputError
from genotx.runtime import settings

# Typer argument for zero or more input files ('-' = stdin).
INPUTS_HELP = "FASTA/FASTQ files, plain or gzip ('-' or none: stdin)."


def inputs_argument(help: str = INPUTS_HELP):
    return typer.Argument(None, help=help, show_default=False)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def fail(message: str, code: int = 2) -> None:
    print(f"genotx: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def command(func: Callable) -> Callable:
    """Wrap a subcommand with the project's error and exit-code conventions."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            _silence_stdout()
            raise SystemExit(0)
        except GenotxError as exc:
            if settings.debug:
                traceback.print_exc()
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            print("genotx: interrupted", file=sys.stderr)
            raise SystemExit(130)
        except (SystemExit, typer.Exit, typer.Abort):
            raise
        except MemoryError:
            fail("out of memory (try a smaller --batch-size)", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if settings.debug:
                traceback.print_exc()
            detail = str(exc).splitlines()[0] if str(exc) else ""
            fail(f"internal error: {type(exc).__name__}: {detail} (rerun with --debug for the traceback)", 1)

    return wrapper


def require(condition: bool, message: str) -> None:
    """Raise a usage error (exit 2) unless `condition` holds."""
    if not condition:
        raise InputError(message)


def paths_or_stdin(paths: Optional[List[str]]) -> list[str]:
    return list(paths) if paths else ["-"]
