"""Where the files shipped with genotx are: ``data/`` (genomes, labelled sets) and ``models/``.

Both are searched in the same order: an environment variable
(``$GENOTX_DATA``, ``$GENOTX_MODELS``), the folder of a checkout or editable
install (``<repo>/data``), and ``<prefix>/share/genotx/...`` of an installed
package. Data may also sit inside the package (``genotx/data``).

Example::

    taxa = data_path("genomes", "taxa.tsv")
    model_dir = default_model("taxon")      # <repo>/models/taxon-default
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from genotx.errors import InputError

_HERE = Path(__file__).resolve()


def _roots(kind: str) -> list[Path]:
    """Folders that may hold the shipped ``kind`` ("data" or "models"), in search order."""
    roots = []
    variable = f"GENOTX_{kind.upper()}"
    if os.environ.get(variable):
        roots.append(Path(os.environ[variable]))
    roots.append(_HERE.parents[1] / kind)  # a checkout or editable install: <repo>/<kind>
    if kind == "data":
        roots.append(_HERE.parent / kind)  # data copied into the package
    roots.append(Path(sys.prefix) / "share" / "genotx" / kind)
    return roots


def data_path(*parts: str) -> Path:
    """Path of a file shipped with genotx under ``data/``.

    Looks in ``$GENOTX_DATA``, the repository's ``data/`` (editable installs),
    ``genotx/data`` and ``<prefix>/share/genotx/data``, in that order.

    Example: ``data_path("genomes", "taxa.tsv")``.
    """
    roots = _roots("data")
    for root in roots:
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    wanted = "/".join(parts) or "."
    raise InputError(
        f"shipped data file {wanted!r} not found (looked in {', '.join(str(r) for r in roots)}); "
        "set GENOTX_DATA to the data/ folder of a genotx checkout"
    )


def default_model(task: str) -> str:
    """Directory of the shipped default model of ``task`` (``models/<task>-default``)."""
    roots = _roots("models")
    for root in roots:
        candidate = root / f"{task}-default"
        if (candidate / "config.json").exists():
            return str(candidate)
    raise InputError(f"no shipped default model for task {task!r}; pass --model DIR "
                     f"(looked in {', '.join(str(r) for r in roots)})")
