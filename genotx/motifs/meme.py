"""MEME motif format (minimal text format, version 4): write and read.

Written files load in the MEME suite (Tomtom, FIMO) and in Biopython.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, TextIO

import numpy as np

from genotx.errors import InputError


@dataclass(frozen=True)
class MemeMotif:
    """One motif of a MEME file: probabilities (width, 4) in A C G T order."""

    name: str
    pfm: np.ndarray
    n_sites: int = 0
    description: str = ""


def write_meme(motifs: Iterable[MemeMotif], stream: TextIO, background=(0.25, 0.25, 0.25, 0.25)) -> None:
    """Write motifs in MEME minimal format.

    Example: ``write_meme([MemeMotif("m1", pfm, 20)], open("out.meme", "w"))``.
    """
    bg = " ".join(f"{b} {float(f):.6f}" for b, f in zip("ACGT", background))
    stream.write(f"MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n{bg}\n\n")
    for m in motifs:
        pfm = np.asarray(m.pfm, dtype=float)
        title = f"MOTIF {m.name}" + (f" {m.description}" if m.description else "")
        stream.write(f"{title}\nletter-probability matrix: alength= 4 w= {len(pfm)} nsites= {m.n_sites} E= 0\n")
        for row in pfm:
            stream.write(" " + " ".join(f"{v:.6f}" for v in row) + "\n")
        stream.write("\n")


def read_meme(stream: TextIO, source: str = "<meme>") -> list:
    """Parse the motifs of a MEME text file (DNA alphabet).

    Example: ``read_meme(open("out.meme"))[0].pfm.shape -> (width, 4)``.
    """
    lines = stream.read().splitlines()
    motifs, i = [], 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line.startswith("MOTIF"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise InputError(f"{source}: line {i}: MOTIF without a name")
        name, description = parts[1], parts[2] if len(parts) > 2 else ""
        while i < len(lines) and not lines[i].strip().startswith("letter-probability"):
            i += 1
        if i == len(lines):
            raise InputError(f"{source}: motif {name!r} has no letter-probability matrix")
        fields = lines[i].replace("=", " = ").split()
        i += 1
        info = {fields[k - 1]: fields[k + 1] for k, f in enumerate(fields) if f == "=" and k + 1 < len(fields)}
        try:
            width, n_sites = int(info["w"]), int(float(info.get("nsites", 0)))
            rows = [[float(v) for v in lines[i + r].split()] for r in range(width)]
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"{source}: motif {name!r}: malformed matrix ({exc})") from exc
        if any(len(r) != 4 for r in rows):
            raise InputError(f"{source}: motif {name!r}: each matrix row needs 4 probabilities (A C G T)")
        i += width
        motifs.append(MemeMotif(name, np.array(rows), n_sites, description))
    return motifs
