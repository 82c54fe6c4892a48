"""Data side of the supervised tasks: taxon, regulatory, expression, variant.

Everything here is model-free (numpy only, no torch): loading labelled inputs
with errors that name the file and line, simulating reads with a documented
sequencing-error model, a synthetic expression set, and simple k-mer
baselines that every reported accuracy is compared against.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from genotx.errors import InputError

TASKS = ("taxon", "regulatory", "expression", "variant")


def _data_roots() -> list[Path]:
    roots = []
    if os.environ.get("GENOTX_DATA"):
        roots.append(Path(os.environ["GENOTX_DATA"]))
    here = Path(__file__).resolve()
    roots.append(here.parents[2] / "data")  # a checkout or editable install: <repo>/data
    roots.append(here.parents[1] / "data")  # data copied into the package
    roots.append(Path(sys.prefix) / "share" / "genotx" / "data")
    return roots


def data_path(*parts: str) -> Path:
    """Path of a file shipped with genotx under ``data/``.

    Looks in ``$GENOTX_DATA``, the repository's ``data/`` (editable installs),
    ``genotx/data`` and ``<prefix>/share/genotx/data``, in that order.

    Example: ``data_path("genomes", "taxa.tsv")``.
    """
    roots = _data_roots()
    for root in roots:
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    wanted = "/".join(parts) or "."
    raise InputError(
        f"shipped data file {wanted!r} not found (looked in {', '.join(str(r) for r in roots)}); "
        "set GENOTX_DATA to the data/ folder of a genotx checkout"
    )
