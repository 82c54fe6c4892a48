"""Offline JASPAR: the SQLite databases shipped inside the `pyjaspar` package.

Read directly with sqlite3 (read-only), so no network and no Biopython. The
latest version of each matrix in the chosen collection and taxonomic group is
returned, as pyjaspar itself does by default.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genotx.errors import InputError

DEFAULT_RELEASE = "JASPAR2024"
DEFAULT_COLLECTION = "CORE"
DEFAULT_TAX_GROUP = "vertebrates"


@dataclass(frozen=True)
class JasparMotif:
    """One JASPAR matrix: ``matrix_id`` like MA0139.2, counts (width, 4) in A C G T order."""

    matrix_id: str
    name: str
    counts: np.ndarray


def _data_dir() -> Path:
    try:
        import pyjaspar
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise InputError("the pyjaspar package is not installed (pip install pyjaspar)") from exc
    return Path(pyjaspar.__file__).parent / "data"


def releases() -> list:
    """Release names available offline, oldest first, e.g. ['JASPAR2014', ..., 'JASPAR2024']."""
    return sorted(p.stem for p in _data_dir().glob("JASPAR*.sqlite"))


def load(release: str = DEFAULT_RELEASE, collection: str = DEFAULT_COLLECTION,
         tax_group: str | None = DEFAULT_TAX_GROUP) -> list:
    """Latest-version matrices of one collection and taxonomic group ('all' or None: every group).

    Example: ``load("JASPAR2024", "CORE", "vertebrates")`` -> 879 JasparMotif.
    """
    path = _data_dir() / f"{release}.sqlite"
    if not path.exists():
        raise InputError(f"JASPAR release {release!r} is not available offline; choose one of: {', '.join(releases())}")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        query = (
            "SELECT m.ID, m.BASE_ID, m.VERSION, m.NAME FROM MATRIX m "
            "WHERE upper(m.COLLECTION) = upper(?) "
            "AND m.VERSION = (SELECT max(m2.VERSION) FROM MATRIX m2 "
            "WHERE m2.BASE_ID = m.BASE_ID AND upper(m2.COLLECTION) = upper(m.COLLECTION))"
        )
        args: list = [collection]
        if tax_group and tax_group.lower() != "all":
            query += (" AND EXISTS (SELECT 1 FROM MATRIX_ANNOTATION a WHERE a.ID = m.ID "
                      "AND lower(a.TAG) = 'tax_group' AND lower(a.VAL) = lower(?))")
            args.append(tax_group)
        rows = con.execute(query + " ORDER BY m.BASE_ID", args).fetchall()
        data: dict = {}
        for mid, base, col, val in con.execute("SELECT ID, upper(row), col, val FROM MATRIX_DATA"):
            data.setdefault(mid, []).append((base, col, val))
    finally:
        con.close()
    motifs = []
    for mid, base_id, version, name in rows:
        cells = data.get(mid)
        if not cells:
            continue
        width = max(c for _, c, _ in cells)
        counts = np.zeros((width, 4))
        for base, col, val in cells:
            counts[col - 1, "ACGT".index(base)] = val
        motifs.append(JasparMotif(f"{base_id}.{version}", name, counts))
    if not motifs:
        raise InputError(f"no JASPAR matrices in {release} for collection {collection!r} and tax group {tax_group!r}")
    return motifs
