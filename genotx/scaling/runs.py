"""Training runs as scaling-law data: read run.json files and TSV/CSV tables.

A run is (params N, tokens D, loss, flops C, budget). Inputs may be mixed:

- a JSON object as written by `genotx pretrain` (``run.json``): keys
  ``params``, ``tokens``, ``loss`` (a number, or an object whose
  ``per_token`` entry is used) and optionally ``flops``; a ``sweep.json``
  beside it (written by `genotx scaling-sweep`) supplies the planned
  compute ``budget`` used to group runs for the IsoFLOP method;
- a JSON list of such objects;
- a table, tab- or comma-separated (detected from the header line), with
  columns ``params``, ``tokens``, ``loss`` and optionally ``flops`` and
  ``budget``; lines starting with ``#`` are comments.

The format is recognised by content, not by file name. Missing, non-numeric
or non-positive values are errors naming the file and row, unless the caller
asks to skip such rows.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.scaling.law import FLOPS_PER_PARAM_TOKEN

REQUIRED = ("params", "tokens", "loss")
OPTIONAL = ("flops", "budget")
# keys tried, in order, when run.json stores the loss per unit rather than as one number
LOSS_KEYS = ("per_token", "nats_per_token", "token")


@dataclass(frozen=True)
class Runs:
    """Columns of the runs that passed validation, plus what was skipped.

    Example::

        runs = read_runs(["runs/a/run.json", "table.tsv"])
        runs.params, runs.tokens, runs.loss    # numpy float64 arrays
    """

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    flops: np.ndarray  # given flops, else 6 N D
    budget: np.ndarray  # planned compute of a sweep, NaN where unknown
    labels: tuple  # "file" or "file:row N", for messages
    skipped: int

    def __len__(self) -> int:
        return len(self.loss)

    def drop_worst(self, k: int) -> "Runs":
        """Without the k runs of highest loss (outliers such as diverged runs)."""
        if k < 0 or k >= len(self):
            raise InputError(f"--drop-worst {k}: must be at least 0 and less than the {len(self)} runs read")
        keep = np.sort(np.argsort(self.loss, kind="stable")[: len(self) - k])
        return Runs(
            self.params[keep], self.tokens[keep], self.loss[keep], self.flops[keep], self.budget[keep],
            tuple(self.labels[i] for i in keep), self.skipped,
        )


def _number(value, where: str, key: str, required: bool) -> float:
    if value is None or (isinstance(value, str) and value.strip() in ("", "NA", "NaN", "nan")):
        if required:
            raise InputError(f"{where}: {key} is missing")
        return math.nan
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key} is {value!r}, expected a positive number") from None
    if not math.isfinite(x) or x <= 0:
        raise InputError(f"{where}: {key} is {value!r}, expected a positive number")
    return x


def _record(fields: dict, where: str) -> tuple:
    loss = fields.get("loss")
    if isinstance(loss, dict):
        loss = next((loss[k] for k in LOSS_KEYS if k in loss), None)
    values = [_number(loss if k == "loss" else fields.get(k), where, k, True) for k in REQUIRED]
    values += [_number(fields.get(k), where, k, False) for k in OPTIONAL]
    return tuple(values)


def _read_text(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror if isinstance(exc, OSError) else exc}") from None


def _sweep_budget(path: str):
    """The planned budget from a sweep.json beside run.json, if there is one."""
    if path == "-":
        return None
    sidecar = os.path.join(os.path.dirname(os.path.abspath(path)), "sweep.json")
    try:
        with open(sidecar, encoding="utf-8") as handle:
            return json.load(handle).get("budget")
    except (OSError, ValueError, AttributeError):
        return None


def _json_fields(path: str, text: str):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(data, dict):
        if "budget" not in data:
            data = {**data, "budget": _sweep_budget(path)}
        return [(path, data)]
    if isinstance(data, list) and all(isinstance(d, dict) for d in data):
        return [(f"{path}: run {i}", d) for i, d in enumerate(data, 1)]
    raise InputError(f"{path}: expected a run.json object (or a list of them) with keys params, tokens, loss")


def _table_fields(path: str, text: str):
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not lines:
        raise InputError(f"{path}: no header line; expected columns params, tokens, loss")
    header_line, header = lines[0]
    sep = "\t" if "\t" in header else ","
    columns = [c.strip() for c in header.split(sep)]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(f"{path}: line {header_line}: missing column(s) {', '.join(missing)} (have: {', '.join(columns)})")
    rows = []
    for row_number, (line_number, line) in enumerate(lines[1:], 1):
        cells = line.split(sep)
        if len(cells) != len(columns):
            cells = cells + [""] * (len(columns) - len(cells))  # short rows: the missing cells are reported by name
        rows.append((f"{path}: row {row_number} (line {line_number})", dict(zip(columns, cells))))
    return rows


def read_runs(paths, *, skip_bad: bool = False) -> Runs:
    """Read and validate runs from every path ('-' is stdin).

    With `skip_bad`, invalid rows are left out and counted in `Runs.skipped`;
    otherwise the first one raises InputError naming file and row.
    """
    values, labels, skipped = [], [], 0
    for path in paths:
        text = _read_text(path)
        stripped = text.lstrip()
        items = _json_fields(path, stripped) if stripped[:1] in ("{", "[") else _table_fields(path, text)
        for where, fields in items:
            try:
                values.append(_record(fields, where))
                labels.append(where)
            except InputError:
                if not skip_bad:
                    raise
                skipped += 1
    if not values:
        raise InputError(f"no valid runs in {', '.join(paths)}" + (f" ({skipped} skipped)" if skipped else ""))
    table = np.array(values, dtype=np.float64)
    params, tokens, loss, flops, budget = table.T
    flops = np.where(np.isnan(flops), FLOPS_PER_PARAM_TOKEN * params * tokens, flops)
    return Runs(params, tokens, loss, flops, budget, tuple(labels), skipped)
