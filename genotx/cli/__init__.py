"""The `genotx` command: global options and the list of subcommands.

Each subcommand lives in its own thin module (parse options, call library
code, write TSV) and must not import torch at module level, so that
`genotx --help` stays instant.
"""

from __future__ import annotations

from typing import Optional

import typer

from genotx import __version__
from genotx.cli._common import (
    DEBUG_OPTION,
    QUIET_OPTION,
    THREADS_OPTION,
    GenotxApp,
    LazySubcommands,
    threads_default,
)
from genotx.runtime import settings

app = GenotxApp(
    name="genotx",
    help="Language models for DNA: tokenize, pretrain, finetune, predict, interpret. "
    "Reads FASTA/FASTQ (plain or gzip, files or stdin), writes TSV to stdout.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help text: fast to print, stable for help2man
    cls=LazySubcommands,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"genotx {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    threads: Optional[int] = THREADS_OPTION,
    quiet: bool = QUIET_OPTION,
    debug: bool = DEBUG_OPTION,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    settings.threads = threads or threads_default()
    settings.quiet = quiet
    settings.debug = debug


# (subcommand name, module under genotx.cli). Each module defines `run`.
COMMANDS = [
    ("stats", "stats"),
    ("scaling-fit", "scaling_fit"),
    ("scaling-sweep", "scaling_sweep"),
    ("simulate", "simulate"),
    ("pretrain", "pretrain"),
    ("generate", "generate"),
    ("finetune", "finetune"),
    ("predict", "predict"),
    ("embed", "embed"),
    ("ism", "ism"),
    ("presets", "presets"),
    ("grid", "grid"),
    ("motifs", "motifs"),
    ("tokenize", "tokenize"),
]

# Modules are imported lazily by `LazySubcommands`, when their subcommand is run or listed.
