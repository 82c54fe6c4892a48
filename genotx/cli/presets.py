"""List the named presets (TSV), or print one resolved preset as JSON with --show.

Columns: name, tokenizer, pe, objective, mixer, seq_len, d_model, layers,
summary, source. `--preset NAME` works in pretrain, finetune and
scaling-sweep; explicit flags override preset values.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from genotx.cli._common import command


@command
def run(
    show: Optional[str] = typer.Option(None, "--show", help="Print the resolved settings of one preset as JSON."),
) -> None:
    from genotx.io import TsvWriter
    from genotx.presets import FAMILIES, preset_table, resolve_preset

    if show:
        settings = resolve_preset(show)
        family = show.split("-")[0]
        payload = {"name": show, "settings": settings, "summary": FAMILIES[family]["summary"],
                   "source": FAMILIES[family]["source"]}
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        return
    columns = ["name", "tokenizer", "pe", "objective", "mixer", "seq_len", "d_model", "layers", "summary", "source"]
    with TsvWriter(columns) as out:
        out.write_rows(preset_table())
