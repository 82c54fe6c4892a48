"""Shared plumbing of the subcommands: error handling and common options.

Every subcommand function is wrapped by `command`, which turns
`genotx.errors.GenotxError` into ``genotx: error: ...`` on stderr with the
error's exit code (2 for bad input/usage), ends quietly with status 0 on a
broken pipe (``genotx ... | head``), and reports anything else as an internal
error (status 1; ``--debug`` prints the traceback). An `OSError` from the
environment (a full disk, a missing folder, a closed stdout) is one line naming
the file or stream and the OS error: status 2 for a path that cannot be used,
else 1. `GenotxApp` does the same for command-line usage errors found before a
subcommand runs, and for failures writing ``--help`` or ``--version``.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import traceback
from typing import Callable, List, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from genotx.errors import BAD_PATH_ERRNOS, GenotxError, InputError, OutputError
from genotx.io.reader import stdin_is_terminal
from genotx.io.stdio import guard_standard_streams, os_error_text, silence_stdout
from genotx.runtime import default_threads, settings

try:  # typer >= 0.20 ships its own copy of click
    from typer._click import exceptions as _click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as _click_exceptions

COMPLETE_VAR = "_GENOTX_COMPLETE"

# Typer argument for zero or more input files ('-' = stdin).
INPUTS_HELP = "FASTA/FASTQ files, plain or gzip ('-' or none: stdin)."


def inputs_argument(help: str = INPUTS_HELP):
    return typer.Argument(None, help=help, show_default=False, metavar="FILE")


# Control characters in a message (a file name holding a newline) are shown escaped: one line.
_ESCAPES = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def fail(message: str, code: int = 2) -> None:
    try:
        print(f"genotx: error: {message.translate(_ESCAPES)}", file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass  # stderr itself is gone: the exit status still tells
    raise SystemExit(code)


def os_error_exit(exc: OSError) -> None:
    """One line for an `OSError` of the environment: ``FILE: No space left on device``."""
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = " -> ".join(names) + ": " if names else ""
    fail(f"{where}{os_error_text(exc)}", 2 if exc.errno in BAD_PATH_ERRNOS else 1)


def _internal_error(exc: BaseException) -> None:
    if settings.debug:
        traceback.print_exc()
    detail = str(exc).splitlines()[0] if str(exc) else ""
    hint = "" if settings.debug else " (rerun with --debug for the traceback)"
    fail(f"internal error: {type(exc).__name__}: {detail}{hint}", 1)


class PlainValues:
    """Converts the value of a plain option or argument without importing pydantic.

    typer converts every command-line value through a pydantic TypeAdapter, and
    importing pydantic for it costs about 60 ms of each run's start-up (half of
    `genotx tokenize` on a small input). The values of genotx's options are str,
    int, float, bool and lists of str: those in plain form (``6``, ``-0.5``,
    ``1e-3``) inside their min/max are converted here, to what pydantic gives;
    anything else (another form, a bound broken, choices, files, paths, custom
    parsers) goes to typer's own conversion, which gives its usual error messages.

    Example: ``PlainValues(descriptor).coerce("6", param, ctx)`` returns 6 for an int option.
    """

    _NUMBER = None  # a regular expression of plain decimal numbers, compiled on first use

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self._typer = None  # typer's conversion, built when a value needs it

    def coerce(self, value, param, ctx):
        if value is None:  # as typer: a missing value, or none of a multi-value parameter
            return () if param.multiple or param.nargs == -1 else None
        plain = self._plain(value)
        if plain is not None:
            return plain
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(self.descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)

    def _plain(self, value):
        """The converted value, or None where typer's conversion must decide."""
        kind, info = self.descriptor.annotation, self.descriptor.parameter_info
        if kind is str or kind is bool:
            return value if type(value) is kind else None
        if kind == List[str]:
            ok = isinstance(value, (list, tuple)) and all(type(v) is str for v in value)
            return list(value) if ok else None
        if kind is int:
            number = value if type(value) is int else int(value) if self._is_integer(value) else None
        elif kind is float:
            number = float(value) if type(value) in (int, float) or self._is_decimal(value) else None
        else:
            return None
        if number is None or getattr(info, "clamp", False):
            return None
        low, high = info.min, info.max
        return number if (low is None or number >= low) and (high is None or number <= high) else None

    @staticmethod
    def _is_integer(value) -> bool:
        digits = value[1:] if isinstance(value, str) and value[:1] in ("+", "-") else value
        return isinstance(digits, str) and digits.isascii() and digits.isdigit()

    @classmethod
    def _is_decimal(cls, value) -> bool:
        if cls._NUMBER is None:
            import re

            cls._NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
        return isinstance(value, str) and cls._NUMBER.fullmatch(value) is not None


def convert_plain_values(command) -> None:
    """Let `PlainValues` convert the values of `command`'s plain parameters (see there)."""
    for param in command.params:
        _convert_plainly(param)


def _convert_plainly(param) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if info is None or not hasattr(param, "_runtime_param"):
        return  # not a typer parameter as this code knows them: typer converts it
    if getattr(info, "parser", None) is None and getattr(info, "click_type", None) is None and \
            not descriptor.is_choice and not descriptor.is_file and not descriptor.is_path:
        param._runtime_param = PlainValues(descriptor)


class PlainHelpOption:
    """For click commands: the --help option, made on first use, is converted plainly too."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None and not isinstance(getattr(option, "_runtime_param", None), PlainValues):
            _convert_plainly(option)
        return option


class PlainCommand(PlainHelpOption, TyperCommand):
    """A subcommand whose values are converted by `PlainValues` where they can be."""


# The global options. They are accepted after the subcommand too (`genotx predict -q`),
# where they override what was given before it.
THREADS_OPTION = typer.Option(
    None, "-t", "--threads", min=1, help="CPU threads (default: $GENOTX_THREADS, else $OMP_NUM_THREADS, else all cores)."
)
QUIET_OPTION = typer.Option(False, "-q", "--quiet", help="No progress bars, warnings or notes on stderr.")
DEBUG_OPTION = typer.Option(False, "--debug", help="Print tracebacks of errors.")


def _global_options() -> list:
    """Click parameters of the global options, to be added to a subcommand: each sets `settings` when given."""

    def options(threads: Optional[int] = THREADS_OPTION, quiet: bool = QUIET_OPTION, debug: bool = DEBUG_OPTION):
        pass

    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command("options", cls=PlainCommand)(options)
    params = typer.main.get_command(single).params

    def apply(ctx, param, value):
        if value:  # given: None (threads) and False (flags) leave the setting from before the subcommand
            setattr(settings, param.name, value)
        return value

    for param in params:
        param.expose_value = False
        param.callback = apply
        _convert_plainly(param)
    return params


def load_subcommand(name: str, module: str):
    """Import ``genotx.cli.<module>`` and return its `run` as a click command named `name`.

    The module docstring is the command's help (and man page); its first line the summary.
    """
    mod = importlib.import_module(f"genotx.cli.{module}")
    doc = (mod.__doc__ or "").strip()
    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(name, cls=PlainCommand, help=doc or None, short_help=doc.splitlines()[0] if doc else None)(mod.run)
    command = typer.main.get_command(single)
    command.params.extend(_global_options())
    convert_plain_values(command)
    return command


class LazySubcommands(PlainHelpOption, TyperGroup):
    """The subcommand group: a subcommand's module is imported only when it is run or listed.

    ``genotx stats`` thus never imports what ``genotx pretrain`` needs; the
    list of subcommands is ``genotx.cli.COMMANDS``.
    """

    def _registered(self) -> dict[str, str]:
        from genotx.cli import COMMANDS

        return dict(COMMANDS)

    def list_commands(self, ctx) -> list[str]:
        names = list(self._registered())
        return names + [n for n in self.commands if n not in names]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name not in self.commands:
            module = self._registered().get(cmd_name)
            if module is not None:
                self.commands[cmd_name] = load_subcommand(cmd_name, module)
        return self.commands.get(cmd_name)


class GenotxApp(typer.Typer):
    """A `typer.Typer` whose usage errors are one line ``genotx: error: ...`` with exit status 2.

    Shell completion (``_GENOTX_COMPLETE=source_bash genotx``) is served
    without adding typer's ``--install-completion`` options to every help page.
    """

    def __call__(self, *args, **kwargs):
        guard_standard_streams()
        if COMPLETE_VAR in os.environ:
            from typer.completion import completion_init

            completion_init()
        try:
            group = typer.main.get_command(self)
            convert_plain_values(group)
            status = group.main(*args, standalone_mode=False, **kwargs)
            sys.stdout.flush()  # help and version text: a failure is reported here, not at exit
        except _click_exceptions.NoArgsIsHelpError as exc:
            print(exc.format_message(), file=sys.stderr)
            raise SystemExit(2)
        except _click_exceptions.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            fail(f"{exc.format_message()}{hint}", 2)
        except _click_exceptions.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except typer.Abort:
            print("genotx: interrupted", file=sys.stderr)
            raise SystemExit(130)
        except BrokenPipeError:  # `genotx --help | head -1`
            silence_stdout()
            raise SystemExit(0)
        except GenotxError as exc:  # `genotx --help > /dev/full`
            silence_stdout()
            fail(str(exc), exc.exit_code)
        except OSError as exc:
            silence_stdout()
            os_error_exit(exc)
        raise SystemExit(status if isinstance(status, int) else 0)


def command(func: Callable) -> Callable:
    """Wrap a subcommand with the project's error and exit-code conventions."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            silence_stdout()
            raise SystemExit(0)
        except GenotxError as exc:
            if settings.debug:
                traceback.print_exc()
            if isinstance(exc, OutputError):
                silence_stdout()
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            print("genotx: interrupted", file=sys.stderr)
            raise SystemExit(130)
        except (SystemExit, typer.Exit, typer.Abort):
            raise
        except MemoryError:
            fail("out of memory (try a smaller --batch-size)", 1)
        except OSError as exc:  # the environment: a full disk, a missing folder
            if settings.debug:
                traceback.print_exc()
            os_error_exit(exc)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _internal_error(exc)

    return wrapper


def threads_default() -> int:
    """`GENOTX_THREADS` if set (a positive integer, else a usage error), else `OMP_NUM_THREADS`, else all cores."""
    env = os.environ.get("GENOTX_THREADS", "").strip()
    if env and not (env.isdigit() and int(env) > 0):
        fail(f"GENOTX_THREADS must be a positive integer, got {env!r}", 2)
    return default_threads()


def require(condition: bool, message: str) -> None:
    """Raise a usage error (exit 2) unless `condition` holds."""
    if not condition:
        raise InputError(message)


def paths_or_stdin(paths: Optional[List[str]]) -> list[str]:
    """The input paths, or ``["-"]`` (stdin) when none are given.

    With no paths and stdin a terminal, the user most likely forgot the input:
    waiting for typed FASTA would look like a hang, so this is a usage error
    (an explicit ``-`` still reads the terminal).
    """
    if paths:
        return list(paths)
    if stdin_is_terminal():
        raise InputError("no input files and stdin is a terminal: name FASTA/FASTQ files or pipe them in ('-' reads the terminal)")
    return ["-"]


def parse_shard(text: Optional[str], paths: list[str]) -> Optional[tuple[int, int]]:
    """``--shard I/N`` as ``(I, N)`` (None without it); usage errors name what is wrong.

    Every shard reads the same files and keeps every Nth batch, so stdin (read once)
    cannot be sharded.
    """
    if text is None:
        return None
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise InputError(f"--shard must be I/N with 1 <= I <= N (like 3/8), got {text!r}")
    if "-" in paths:
        raise InputError("--shard needs input files: every shard reads the same files, and stdin can be read only once")
    return int(index), int(count)
