"""A genome in memory: every record's bases as one ``uint8`` code array with per-record offsets.

About one byte per base: the 4.6 Mbp of E. coli take 4.6 MB. Pretraining
windows, the read simulator and the k-mer index of the taxon task all read
genomes in this form (codes from `genotx.io.codes`).

Example::

    genome = load_genome(["genome.fa.gz"])
    first = genome.records[0]               # uint8 codes of the first record (a view, no copy)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from genotx.errors import InputError
from genotx.io.codes import encode
from genotx.io.reader import iter_batches


@dataclass
class Genome:
    """All records as one code array; ``codes[starts[i] : starts[i] + lengths[i]]`` is record ``ids[i]``."""

    ids: list[str]
    codes: np.ndarray  # uint8, concatenated records
    starts: np.ndarray  # int64
    lengths: np.ndarray  # int64
    path: str = ""  # the file it was read from, when it is one file

    @classmethod
    def from_sequences(cls, ids: list[str], seqs: list[str], path: str = "") -> "Genome":
        """A genome of normalised ACGTN sequences: ``Genome.from_sequences(["chr1"], ["ACGT"])``."""
        return cls.from_codes(ids, [encode(s) for s in seqs], path)

    @classmethod
    def from_codes(cls, ids: list[str], parts: list[np.ndarray], path: str = "") -> "Genome":
        """A genome of per-record code arrays (concatenated into one)."""
        lengths = np.array([len(p) for p in parts], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        return cls(list(ids), codes, starts, lengths, path)

    @cached_property
    def records(self) -> list[np.ndarray]:
        """Each record's codes, as views into ``codes``."""
        return [self.codes[s : s + n] for s, n in zip(self.starts.tolist(), self.lengths.tolist())]

    @property
    def bp(self) -> int:
        return int(self.lengths.sum())

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.ids)}

    def index_of(self, seq_id: str) -> int:
        try:
            return self._index[seq_id]
        except KeyError:
            raise InputError(f"sequence {seq_id!r} is not in the input FASTA") from None


def load_genome(paths: list[str]) -> Genome:
    """Read the FASTA records of ``paths`` into one genome (about 1 byte per base in memory)."""
    ids: list[str] = []
    parts: list[np.ndarray] = []
    for batch in iter_batches(paths):
        if batch.quals is not None:
            raise InputError(f"{batch.source}: pretraining reads FASTA genomes, got FASTQ reads")
        ids.extend(batch.ids)
        parts.extend(encode(seq) for seq in batch.seqs)  # codes as they come: strings never pile up
    if not parts:
        raise InputError("empty input: no FASTA records to train on")
    return Genome.from_codes(ids, parts)
