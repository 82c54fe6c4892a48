"""Simulated sequencing reads with a documented error model and truth in the read ids.

Sampling. Each read first picks a taxon (uniformly with ``balance="taxon"``,
or in proportion to genome size with ``balance="length"``), then a record of
that taxon's genomes with probability proportional to its length, a strand
(+ or - with probability 1/2 each) and a start position uniformly along the
record. Reads never span two records or wrap around a circular genome.

Error model. Each read draws its own error rate ``e`` uniformly from
``[rate_min, rate_max]`` (default 0-3 %, a mix of good and poor reads;
``--error-rate 0.01`` fixes it). ``e`` is the expected number of edited bases
per read base. Walking along the template, an error event starts at each base
with probability ``e / m`` where ``m`` is the mean number of bases an event
edits, so the edit rate is ``e``. An event is a substitution (80 %: the base
becomes one of the three others, uniformly), an insertion (10 %: 1-3 random
bases after the template base) or a deletion (10 %: 1-3 template bases
skipped); indel lengths 1, 2, 3 have probabilities 0.7, 0.2, 0.1. Errors are
applied to the read in its sequencing direction, as on the instrument.
Qualities are a constant ``I`` (they carry no information).

Read ids hold the truth, ``|``-separated, e.g.
``r000001|taxon=Escherichia_coli|taxid=562|strand=-|pos=123|seq=NC_000913.3|errors=2``:
``pos`` is the 1-based leftmost forward-strand base the read covers (as in SAM)
and ``errors`` the number of edited bases. `parse_truth` reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np

from genotx.errors import InputError
from genotx.io.codes import BYTE_OF_CODE, COMPLEMENT_CODE
from genotx.taxon.genomes import GenomeSet

SUBSTITUTION, INSERTION, DELETION = 0, 1, 2
INDEL_LENGTHS = np.array([1, 2, 3])
INDEL_LENGTH_P = np.array([0.7, 0.2, 0.1])
BALANCES = ("taxon", "length")
_INDEL_CUMULATIVE = np.cumsum(INDEL_LENGTH_P)[:-1]


@dataclass(frozen=True, kw_only=True)
class ErrorModel:
    """Per-read error rate drawn from [rate_min, rate_max]; event kinds mixed as given.

    Example: ``ErrorModel.parse("0-0.03")`` or ``ErrorModel(rate_min=0.01, rate_max=0.01)``.
    """

    rate_min: float = 0.0
    rate_max: float = 0.03
    substitution: float = 0.8
    insertion: float = 0.1
    deletion: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate_min <= self.rate_max <= 0.5:
            raise InputError(f"error rate must satisfy 0 <= min <= max <= 0.5, got {self.rate_min}-{self.rate_max}")
        mix = (self.substitution, self.insertion, self.deletion)
        if min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-9:
            raise InputError(f"substitution, insertion and deletion fractions must be >= 0 and sum to 1, got {mix}")

    @classmethod
    def parse(cls, text: str) -> "ErrorModel":
        """``"0.01"`` -> a fixed 1 % rate; ``"0-0.03"`` -> uniform between 0 and 3 %."""
        parts = text.split("-") if not text.startswith("-") else [text]
        try:
            low, high = (float(parts[0]), float(parts[-1])) if len(parts) <= 2 else (None, None)
        except ValueError:
            low = high = None
        if low is None:
            raise InputError(f"--error-rate {text!r}: expected a rate like 0.01 or a range like 0-0.03")
        return cls(rate_min=low, rate_max=high)

    @property
    def mix(self) -> np.ndarray:
        return np.array([self.substitution, self.insertion, self.deletion])

    @property
    def bases_per_event(self) -> float:
        indel = float(INDEL_LENGTHS @ INDEL_LENGTH_P)
        return self.substitution + (self.insertion + self.deletion) * indel

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("rate_min", "rate_max", "substitution", "insertion", "deletion")}


class SimulatedRead(NamedTuple):
    id: str
    seq: str
    taxon: int  # index into GenomeSet.taxa
    strand: str
    pos: int
    errors: int


class ReadTruth(NamedTuple):
    name: str
    taxon: str
    taxid: int | None
    strand: str | None
    pos: int | None


def mutate(template: np.ndarray, length: int, event_p: float, model: ErrorModel, rng: np.random.Generator):
    """Apply the error model to ``template`` (codes); return (read codes, template bases used, edits).

    The read is cut at ``length``; only edits inside the read are counted.
    Example: ``mutate(codes, 150, 0.01 / model.bases_per_event, model, rng)``.
    """
    events = np.flatnonzero(rng.random(len(template)) < event_p) if event_p > 0 else ()
    pieces, made, cursor, edits = [], 0, 0, 0
    for p in events:
        if p < cursor:  # inside an earlier deletion
            continue
        if made + (p - cursor) >= length:
            break
        pieces.append(template[cursor:p])
        made += p - cursor
        kind = int(np.searchsorted(np.cumsum(model.mix), rng.random(), side="right"))
        if kind == SUBSTITUTION:
            base = template[p]
            new = (base + rng.integers(1, 4)) % 4 if base < 4 else rng.integers(0, 4)
            pieces.append(np.array([new], dtype=np.uint8))
            made, cursor, edits = made + 1, p + 1, edits + 1
            continue
        size = int(INDEL_LENGTHS[np.searchsorted(_INDEL_CUMULATIVE, rng.random(), side="right")])
        if kind == INSERTION:
            size = min(size, length - made - 1)
            pieces.append(template[p : p + 1])
            pieces.append(rng.integers(0, 4, size, dtype=np.uint8))
            made, cursor, edits = made + 1 + size, p + 1, edits + size
        else:
            cursor, edits = p + size, edits + size
    need = length - made
    pieces.append(template[cursor : cursor + need])
    used = cursor + min(need, len(template) - cursor)
    return np.concatenate(pieces)[:length], used, edits


class ReadSimulator:
    """Draw reads from a `GenomeSet`, reproducibly for a given seed.

    Example::

        sim = ReadSimulator(load_genomes(paths, taxa="taxa.tsv"), length=150, seed=1)
        for read in sim.reads(1000):
            print(read.id, read.seq)
    """

    def __init__(self, genomes: GenomeSet, *, length: int = 150, errors: ErrorModel = ErrorModel(),
                 seed: int = 0, balance: str = "taxon"):
        if length < 1:
            raise InputError(f"read length must be at least 1, got {length}")
        if balance not in BALANCES:
            raise InputError(f"unknown balance {balance!r} (choose {' or '.join(BALANCES)})")
        self.genomes, self.length, self.errors, self.balance = genomes, length, errors, balance
        # Room for deletions: the template is longer than the read.
        self.span = length + length // 4 + 16
        self.rng = np.random.default_rng(seed)
        self._records = [[] for _ in genomes.taxa]  # per taxon: (genome, record index, starts)
        for g, (genome, taxon) in enumerate(zip(genomes.genomes, genomes.taxon_of)):
            for r, rec in enumerate(genome.records):
                if len(rec) >= self.span:
                    self._records[taxon].append((g, r, len(rec) - self.span + 1))
        empty = [t.label for t, recs in zip(genomes.taxa, self._records) if not recs]
        if empty:
            raise InputError(f"no record of at least {self.span} bp for {', '.join(empty)} (reads of {length} bp)")
        sizes = np.array([sum(n for *_, n in recs) for recs in self._records], dtype=float)
        self._taxon_p = np.full(len(sizes), 1 / len(sizes)) if balance == "taxon" else sizes / sizes.sum()
        self._record_cumulative = [np.cumsum([n for *_, n in recs])[:-1] / s for recs, s in zip(self._records, sizes)]

    def _read(self, number: int, taxon: int) -> SimulatedRead:
        rng, recs = self.rng, self._records[taxon]
        g, r, starts = recs[int(np.searchsorted(self._record_cumulative[taxon], rng.random(), side="right"))]
        genome = self.genomes.genomes[g]
        record = genome.records[r]
        start = int(rng.integers(starts))
        template = record[start : start + self.span]
        strand = "+" if rng.random() < 0.5 else "-"
        if strand == "-":
            template = COMPLEMENT_CODE[template[::-1]]
        rate = rng.uniform(self.errors.rate_min, self.errors.rate_max)
        codes, used, edits = mutate(template, self.length, rate / self.errors.bases_per_event, self.errors, rng)
        # '-' reads start at the template's right end, so they cover its last `used` bases.
        pos = start + 1 if strand == "+" else start + self.span - used + 1
        t = self.genomes.taxa[taxon]
        name = _record_name(genome.ids[r])
        rid = f"r{number:06d}|taxon={t.label}|taxid={t.taxid or 'NA'}|strand={strand}|pos={pos}|seq={name}|errors={edits}"
        return SimulatedRead(rid, BYTE_OF_CODE[codes].tobytes().decode("ascii"), taxon, strand, int(pos), int(edits))

    def reads(self, n: int, first: int = 1) -> Iterator[SimulatedRead]:
        """Yield ``n`` reads numbered from ``first``."""
        taxa = self.rng.choice(len(self._taxon_p), size=n, p=self._taxon_p)
        for i, taxon in enumerate(taxa.tolist()):
            yield self._read(first + i, taxon)


def _record_name(record_id: str) -> str:
    """``gi|208433976|ref|NC_011333.1|`` -> ``NC_011333.1``: keep ids free of ``|``."""
    parts = [p for p in record_id.split("|") if p]
    return parts[-1] if parts else "NA"


def to_fastq(reads: list[SimulatedRead]) -> str:
    """FASTQ text of reads with a constant quality ``I``."""
    return "".join(f"@{r.id}\n{r.seq}\n+\n{'I' * len(r.seq)}\n" for r in reads)


def parse_truth(read_id: str) -> ReadTruth:
    """Truth fields of a simulated read id.

    Example: ``parse_truth("r1|taxon=Escherichia_coli|taxid=562|strand=-|pos=9").taxon == "Escherichia_coli"``.
    """
    name, *fields = read_id.split("|")
    tags = dict(f.split("=", 1) for f in fields if "=" in f)
    if "taxon" not in tags:
        raise InputError(f"read id {read_id!r} has no taxon=NAME field (not a simulated read?)")
    taxid = tags.get("taxid", "NA")
    pos = tags.get("pos", "")
    return ReadTruth(name, tags["taxon"], int(taxid) if taxid.isdigit() else None,
                     tags.get("strand"), int(pos) if pos.isdigit() else None)
