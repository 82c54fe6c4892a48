"""The one table of base codes: A=0 C=1 G=2 T=3, N (and anything else) 4.

Genomes, simulated reads, k-mer hashing, pretraining windows, baselines and
motif matrices all hold sequences as ``uint8`` arrays of these codes: one byte
per base, and complements by a lookup (``3 - code`` for ACGT, N stays N).

Example::

    codes = encode("ACGTN")                 # [0 1 2 3 4]
    decode(revcomp_codes(codes[None]))      # ["NACGT"]
"""

from __future__ import annotations

import numpy as np

BASES = "ACGTN"
N_CODE = 4
# ASCII byte -> base code; the reader has already normalised sequences to ACGTN.
CODE_OF_BYTE = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    CODE_OF_BYTE[_b] = _i
BYTE_OF_CODE = np.frombuffer(BASES.encode("ascii"), dtype=np.uint8)
COMPLEMENT_CODE = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str) -> np.ndarray:
    """Base codes of a normalised sequence: ``encode("ACGTN") -> [0 1 2 3 4]``."""
    return CODE_OF_BYTE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """The sequence of 1-D base codes: ``decode(encode("ACGTN")) == "ACGTN"``."""
    return BYTE_OF_CODE[codes].tobytes().decode("ascii")


def codes_to_strings(codes: np.ndarray) -> list[str]:
    """(B, L) base codes -> B strings of ACGTN."""
    letters = BYTE_OF_CODE[codes]
    return [row.tobytes().decode("ascii") for row in letters]


def strings_to_codes(seqs: list[str]) -> np.ndarray:
    """B equal-length ACGTN strings -> (B, L) uint8 codes."""
    raw = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    return CODE_OF_BYTE[raw].reshape(len(seqs), -1)


def revcomp_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis: of one sequence, or of each row of (B, L) codes."""
    return COMPLEMENT_CODE[codes[..., ::-1]]
