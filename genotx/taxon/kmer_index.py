"""Hashed k-mer index of the training genomes ("k-mer memory"): evidence for a read's species.

A small transformer learns what reads of a species look like (composition,
codon usage), which carries over to strains it never saw; it cannot memorise
tens of megabases. The memory does the memorising: for every species it keeps
one bit per hash bucket, set when some canonical k-mer (a k-mer and its reverse
complement count as one) of the species' training genomes hashes there. A
read's k-mers are then explained per species by a two-part model: with
probability ``1 - novel`` a k-mer is one of the species' own (its bucket bit is
set), with probability ``novel`` it is new (a sequencing error, or strain
variation) and lands in any bucket. Against a background hypothesis, "none of
these species", whose k-mers land anywhere, each k-mer of a read adds::

    log((1 - novel) / q[c] + novel)   if the bit of species c is set  (q[c]: fraction of set bits)
    log(novel)                        if it is not

to species c, and 0 to the background; k-mers with an N add nothing. A read of
an organism outside the training set mostly misses (its buckets are set only
by chance, at rate q[c]), so the background wins and `predict` leaves it
unclassified; a read of a species hits in nearly every k-mer. How the
evidence joins the network's output, with weights fitted on validation reads,
is `genotx.taxon.combine`; the index itself holds no weights.

Choices: ``novel`` 0.3 is about the fraction of 13-mers with an error in a
read at 3 % errors (1 - 0.97^13 = 0.33). Hash collisions raise ``q``; at
2^23 buckets the largest shipped species (E. coli, 4.6 Mbp) sets 42 % of the
bits, so a k-mer hit still carries 0.7 nat, and ``bits`` trades size
(``2**bits * classes / 8`` bytes on disk) for that. Bits beat per-bucket
counts at equal size: counts need fewer, fuller buckets, where a random k-mer
looks like a species' own.

Example::

    index = KmerIndex.build(genomes, IndexConfig(k=13, bits=23))
    evidence = index.evidence(["ACGT..."])          # (1, classes + 1): the last column is the background
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from genotx.errors import InputError
from genotx.io.codes import encode
from genotx.taxon.index_file import read_index_file, word_bytes, write_index_file

try:
    from genotx.taxon import _kmer_hits as _fast
except ImportError:  # built without a C compiler: hits_numpy counts alone
    _fast = None

FILE = "kmer_memory.safetensors"
_HASH = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (Fibonacci hashing): top bits are well mixed


@dataclass(frozen=True, kw_only=True)
class IndexConfig:
    """k-mer length, log2 of the number of buckets, expected fraction of a read's k-mers new to its species."""

    k: int = 13
    bits: int = 23
    novel: float = 0.3

    def __post_init__(self) -> None:
        if not 5 <= self.k <= 31:
            raise InputError(f"k-mer memory: k must be in 5..31, got {self.k}")
        if not 8 <= self.bits <= 28:
            raise InputError(f"k-mer memory: bits must be in 8..28, got {self.bits}")
        if not 0 < self.novel < 1:
            raise InputError(f"k-mer memory: novel must be between 0 and 1, got {self.novel}")

    @classmethod
    def parse(cls, text: str) -> "IndexConfig | None":
        """``"off"`` -> None, ``"13"`` -> k 13, ``"13:23"`` -> k 13 and 2**23 buckets."""
        if text.strip().lower() in ("off", "none", "0"):
            return None
        parts = text.split(":")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if not 1 <= len(values) <= 2:
            raise InputError(f"--kmer-memory {text!r}: expected K, K:BITS (e.g. 13:23) or off")
        return cls(k=values[0], **({"bits": values[1]} if len(values) == 2 else {}))


def canonical_kmers(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """2-bit codes (uint64) of the canonical k-mer at each start of ``codes``, and which contain no N.

    ``codes`` are base codes (A=0 C=1 G=2 T=3 N=4); the canonical k-mer is the
    smaller of the k-mer and its reverse complement, so both strands agree.
    Example: ``canonical_kmers(encode("ACGT"), 2)[0]`` -> ``[1, 6, 1]`` (AC=GT, CG, GT).
    """
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    base = np.minimum(codes, 3).astype(np.uint64)
    fwd = np.zeros(n, dtype=np.uint64)
    rev = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        part = base[j : j + n]
        fwd = (fwd << np.uint64(2)) | part
        rev |= (np.uint64(3) - part) << np.uint64(2 * j)
    has_n = np.concatenate([[0], np.cumsum(codes == 4, dtype=np.int64)])
    return np.minimum(fwd, rev), has_n[k:] - has_n[:n] == 0


def bucket_of(kmers: np.ndarray, bits: int) -> np.ndarray:
    """Hash bucket in ``[0, 2**bits)`` of 2-bit k-mer codes (the top bits of a multiplicative hash)."""
    return ((kmers * _HASH) >> np.uint64(64 - bits)).astype(np.int64)


def kmer_buckets(codes: np.ndarray, k: int, bits: int) -> np.ndarray:
    """Bucket of the canonical k-mer starting at each position; ``2**bits`` for k-mers with N.

    The memory keeps an all-zero entry at index ``2**bits``, so invalid k-mers add nothing.
    Example: ``kmer_buckets(encode("ACGTTN"), 3, 8)`` has 4 entries, the last one 256.
    """
    kmers, valid = canonical_kmers(codes, k)
    buckets = bucket_of(kmers, bits)
    buckets[~valid] = 1 << bits
    return buckets


def species_buckets(genomes, config: IndexConfig) -> np.ndarray:
    """The buckets of the canonical k-mers of ``genomes`` (a list of `Genome`), each once."""
    parts = [kmers[valid] for genome in genomes for record in genome.records
             for kmers, valid in [canonical_kmers(record, config.k)]]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return bucket_of(np.unique(np.concatenate(parts)), config.bits)


class KmerIndex:
    """Per-species presence bits of hashed canonical k-mers, and the evidence they give for reads."""

    def __init__(self, config: IndexConfig, bits: np.ndarray):
        if bits.ndim != 2 or bits.shape[0] != 1 << config.bits:
            raise InputError(f"k-mer memory: bits of shape {bits.shape} do not match 2**{config.bits} buckets")
        # Each bucket's species bits as one word (bit c = species c), so a read's buckets are
        # looked up with one 1-D gather; an extra zero word is the bucket of k-mers with an N.
        packed = np.zeros((bits.shape[0] + 1, word_bytes(bits.shape[1])), dtype=np.uint8)
        packed[:-1, : (bits.shape[1] + 7) // 8] = np.packbits(bits, axis=1, bitorder="little")
        self._set_words(config, packed, bits.sum(axis=0, dtype=np.int64))

    def _set_words(self, config: IndexConfig, packed: np.ndarray, set_bits: np.ndarray) -> None:
        """``packed``: (2**bits + 1, width) uint8 words (possibly a read-only map of the file); ``set_bits``: per species."""
        self.config, self.n_classes = config, len(set_bits)
        filled = np.maximum(set_bits / float(1 << config.bits), 1.0 / (1 << config.bits))
        self.hit_score = np.log((1 - config.novel) / filled + config.novel)
        self.miss_score = float(np.log(config.novel))
        self._bytes, self._set_bits = packed, set_bits
        words = packed.view(f"<u{min(packed.shape[1], 8)}")  # (buckets + 1, width / 8) beyond 64 species
        self._words = words.ravel() if packed.shape[1] <= 8 else words

    def bit_matrix(self) -> np.ndarray:
        """(2**bits, classes) uint8: 1 where a k-mer of the species hashes to the bucket."""
        return np.unpackbits(self._bytes[:-1], axis=1, bitorder="little")[:, : self.n_classes]

    @classmethod
    def build(cls, genomes, config: IndexConfig, *, report=None) -> "KmerIndex":
        """Bits from a `GenomeSet` (both strands, through canonical k-mers); ``report(i)`` after each taxon."""
        bits = np.zeros((1 << config.bits, len(genomes.taxa)), dtype=np.uint8)
        for t in range(len(genomes.taxa)):
            bits[species_buckets(genomes.of_taxon(t), config), t] = 1
            if report:
                report(t)
        return cls(config, bits)

    def evidence(self, seqs: list[str]) -> np.ndarray:
        """(n, classes + 1) float32 log-likelihood ratios against the background (the last column, 0)."""
        hits, valid = self.hits(seqs)
        out = np.zeros((len(hits), self.n_classes + 1), dtype=np.float32)
        out[:, :-1] = hits * self.hit_score + (valid[:, None] - hits) * self.miss_score
        return out

    def hits(self, seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n, classes) int32 k-mers of each read whose species bit is set, and (n,) int32 k-mers without N.

        The C look-up (`genotx.taxon._kmer_hits`, GIL released) where it is built and the
        species fit one word; else `hits_numpy`, the reference, with the same counts.
        """
        seqs = seqs if isinstance(seqs, list) else list(seqs)
        if _fast is None or self._words.ndim != 1:
            return self.hits_numpy(seqs)
        hits = np.empty((len(seqs), self.n_classes), dtype=np.int32)
        valid = np.empty(len(seqs), dtype=np.int32)
        _fast.kmer_hits(seqs, self._words, self.config.k, self.config.bits, hits, valid)
        return hits, valid

    def hits_numpy(self, seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """`hits` in numpy: about 35 us a 150 bp read, against 2 us in C."""
        k, empty = self.config.k, 1 << self.config.bits
        if not seqs:
            return np.zeros((0, self.n_classes), dtype=np.int32), np.zeros(0, dtype=np.int32)
        # One pass over all reads: an N between reads (and k of them at the end) makes every
        # k-mer that spans two reads invalid, so each read's segment counts only its own k-mers.
        joined = "N".join(seqs) + "N" * k
        buckets = kmer_buckets(encode(joined), k, self.config.bits)
        starts = np.cumsum([0] + [len(s) + 1 for s in seqs[:-1]])
        words = np.take(self._words, buckets, axis=0)
        species = np.unpackbits(words.view(np.uint8).reshape(len(buckets), -1), axis=1,
                                bitorder="little")[:, : self.n_classes]
        hits = np.add.reduceat(species, starts, axis=0, dtype=np.int32)
        valid = np.add.reduceat((buckets != empty).astype(np.int32), starts)
        return hits, valid

    def save(self, path: str) -> None:
        """Write the bucket words and the config that reads them (`genotx.taxon.index_file`)."""
        write_index_file(path, json.dumps(asdict(self.config)), self._bytes, self._set_bits)

    @classmethod
    def load(cls, path: str) -> "KmerIndex":
        """The index of a file, its words memory-mapped read-only (`genotx.taxon.index_file`)."""
        config_json, words, set_bits = read_index_file(path)
        try:
            config = IndexConfig(**json.loads(config_json))
        except (TypeError, ValueError, InputError) as exc:
            raise InputError(f"{path}: not a readable k-mer memory (config: {exc})") from None
        if words is None:  # the former layout: class-major packed bits, converted here
            if set_bits.ndim != 2 or set_bits.shape[1] * 8 != 1 << config.bits:
                raise InputError(f"{path}: k-mer memory bits have shape {set_bits.shape}, "
                                 f"not (classes, 2**{config.bits} / 8)")
            return cls(config, np.unpackbits(set_bits, axis=1).T)
        if len(words) != (1 << config.bits) + 1:
            raise InputError(f"{path}: k-mer memory has {len(words) - 1} buckets, its config 2**{config.bits}")
        index = cls.__new__(cls)
        index._set_words(config, words, set_bits)
        return index
