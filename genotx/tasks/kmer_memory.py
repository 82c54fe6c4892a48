"""Hashed k-mer memory of the training genomes, used as naive-Bayes evidence beside a read classifier.

A small transformer learns what reads of a species look like (composition,
codon usage), which carries over to strains it never saw; it cannot memorise
tens of megabases. The memory does the memorising: for every species it
records which canonical k-mers (a k-mer and its reverse complement count as
one) occur in its training genomes, hashed into ``2**bits`` buckets. For a read
the memory adds up, over the read's k-mers, the log-probability of each
k-mer's bucket under each species (multinomial naive Bayes with additive
smoothing ``alpha``)::

    evidence[c] = sum over k-mers x of log((n[h(x), c] + alpha) / (N[c] + alpha * 2**bits))

``n[b, c]`` counts the distinct k-mers of species ``c`` that hash to ``b``
(capped at 15, so a cell fits in 4 bits) and ``N[c]`` is their total. k-mers
with an N add nothing. The classifier's output combines both::

    log p(c | read) = softmax(w_model * log p_model(c | read) + w_memory * evidence[c])

with the two weights fitted on the validation reads by likelihood, which also
calibrates the probabilities that `predict --min-prob` thresholds (naive Bayes
alone is far too confident: neighbouring k-mers are not independent).

Why large smoothing (``alpha`` 4 by default): a read's k-mers that carry a
sequencing error land in effectively random buckets, each shared by about
``N / 2**bits`` k-mers of all species. Small ``alpha`` lets those random cells
swing the sum, which hurt reads with 3-5 % errors on the shipped genomes;
``alpha`` of the order of a bucket's load damps them, while k-mers really
present still count. Hash collisions cost accuracy smoothly, so ``bits`` trades
size (``2**bits * classes / 2`` bytes on disk) for accuracy.

Example::

    memory = KmerMemory.build(genomes, MemoryConfig(k=13, bits=21))
    evidence = memory.evidence(["ACGT..."])          # (1, classes) float32
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np

from genotx.errors import InputError

FILE = "kmer_memory.safetensors"
MAX_COUNT = 15  # one 4-bit cell per (bucket, class)
_HASH = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (Fibonacci hashing): top bits are well mixed
_CODES = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _CODES[_c] = _i


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    """k-mer length, log2 of the number of buckets, additive smoothing."""

    k: int = 13
    bits: int = 21
    alpha: float = 4.0

    def __post_init__(self) -> None:
        if not 5 <= self.k <= 31:
            raise InputError(f"k-mer memory: k must be in 5..31, got {self.k}")
        if not 8 <= self.bits <= 26:
            raise InputError(f"k-mer memory: bits must be in 8..26, got {self.bits}")
        if not self.alpha > 0:
            raise InputError(f"k-mer memory: alpha must be positive, got {self.alpha}")

    @classmethod
    def parse(cls, text: str) -> "MemoryConfig | None":
        """``"off"`` -> None, ``"13"`` -> k 13, ``"13:21"`` -> k 13 and 2**21 buckets."""
        if text.strip().lower() in ("off", "none", "0"):
            return None
        parts = text.split(":")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if not 1 <= len(values) <= 2:
            raise InputError(f"--kmer-memory {text!r}: expected K, K:BITS (e.g. 13:21) or off")
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

    The memory keeps a zero row at index ``2**bits``, so invalid k-mers add nothing.
    Example: ``kmer_buckets(encode("ACGTTN"), 3, 8)`` has 4 entries, the last one 256.
    """
    kmers, valid = canonical_kmers(codes, k)
    buckets = bucket_of(kmers, bits)
    buckets[~valid] = 1 << bits
    return buckets


class KmerMemory:
    """Per-species counts of hashed canonical k-mers and their naive-Bayes log-likelihoods."""

    def __init__(self, config: MemoryConfig, counts: np.ndarray, weights: tuple[float, float] = (1.0, 1.0)):
        if counts.shape[0] != 1 << config.bits or counts.ndim != 2:
            raise InputError(f"k-mer memory: counts of shape {counts.shape} do not match 2**{config.bits} buckets")
        self.config, self.counts = config, counts
        self.weights = (float(weights[0]), float(weights[1]))  # (w_model, w_memory)
        total = counts.sum(axis=0, dtype=np.float64)
        buckets = float(counts.shape[0])
        log_lik = np.log((counts + config.alpha) / (total + config.alpha * buckets))
        # Last column: the background hypothesis, "none of these species", whose k-mers fall
        # in every bucket alike. A per-bucket constant does not change the posterior; removing
        # the species' mean keeps the sums small.
        log_lik = np.hstack([log_lik, np.full((counts.shape[0], 1), -np.log(buckets))])
        log_lik -= log_lik[:, :-1].mean(axis=1, keepdims=True)
        self.table = np.vstack([log_lik, np.zeros((1, log_lik.shape[1]))]).astype(np.float32)

    @property
    def n_classes(self) -> int:
        return self.counts.shape[1]

    @classmethod
    def build(cls, genomes, config: MemoryConfig, *, report=None) -> "KmerMemory":
        """Counts from a `GenomeSet` (both strands, through canonical k-mers); ``report(i)`` after each taxon."""
        counts = np.zeros((1 << config.bits, len(genomes.taxa)), dtype=np.uint8)
        for t in range(len(genomes.taxa)):
            parts = []
            for genome in genomes.genomes:
                if genome.taxon == t:
                    for record in genome.records:
                        kmers, valid = canonical_kmers(record, config.k)
                        parts.append(kmers[valid])
            # Each distinct k-mer counts once, however often the species' genomes repeat it.
            distinct = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)
            per_bucket = np.bincount(bucket_of(distinct, config.bits), minlength=1 << config.bits)
            counts[:, t] = np.minimum(per_bucket, MAX_COUNT)
            if report:
                report(t)
        return cls(config, counts)

    def evidence(self, seqs: list[str]) -> np.ndarray:
        """(n, classes + 1) float32 summed log-likelihoods of the reads' k-mers; the last column is the background."""
        k = self.config.k
        if not seqs:
            return np.zeros((0, self.n_classes + 1), dtype=np.float32)
        # One pass over all reads: an N between reads (and k of them at the end) makes every
        # k-mer that spans two reads invalid, so each read's segment sums only its own k-mers.
        joined = "N".join(seqs) + "N" * k
        codes = _CODES[np.frombuffer(joined.encode("ascii"), dtype=np.uint8)]
        rows = np.take(self.table, kmer_buckets(codes, k, self.config.bits), axis=0)
        starts = np.cumsum([0] + [len(s) + 1 for s in seqs[:-1]])
        return np.add.reduceat(rows, starts, axis=0)

    def combine(self, model_log_probs: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        """Posterior probabilities (n, classes) of the species; what they leave to 1 is the background's.

        The model has no opinion on the background (its term there is 0, its
        log-probabilities are <= 0), so a read whose k-mers look no more like any
        species than like random sequence (an organism outside the training set)
        gets low species probabilities and is left unclassified by ``--min-prob``.
        """
        return np.exp(self._log_posterior(np.asarray(self.weights), model_log_probs, evidence))[:, :-1]

    @staticmethod
    def _log_posterior(weights, model_log_probs, evidence) -> np.ndarray:
        model_part = np.hstack([model_log_probs, np.zeros((len(model_log_probs), 1), dtype=model_log_probs.dtype)])
        logits = weights[0] * model_part + weights[1] * evidence
        top = logits.max(axis=1, keepdims=True)
        return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))

    def fit_weights(self, model_log_probs: np.ndarray, evidence: np.ndarray, targets: np.ndarray) -> tuple:
        """Choose (w_model, w_memory) >= 0 that maximise the likelihood of the validation targets."""
        from scipy.optimize import minimize

        rows = np.arange(len(targets))

        def nll(w: np.ndarray) -> float:
            log_post = self._log_posterior(w, model_log_probs, evidence)
            # A little L2 keeps the weights finite when validation is separated perfectly.
            return float(-np.mean(log_post[rows, targets]) + 1e-4 * (w @ w))

        best = min((minimize(nll, np.array(start), method="L-BFGS-B", bounds=[(0, 50), (0, 50)])
                    for start in ((1.0, 0.1), (0.2, 1.0))), key=lambda r: r.fun)
        self.weights = (float(best.x[0]), float(best.x[1]))
        return self.weights

    def save(self, path: str) -> None:
        """Write the counts, packed two 4-bit cells per byte, with the config and weights."""
        from safetensors.numpy import save_file

        counts = self.counts
        if counts.shape[1] % 2:
            counts = np.hstack([counts, np.zeros((counts.shape[0], 1), dtype=np.uint8)])
        packed = (counts[:, 0::2] | (counts[:, 1::2] << 4)).astype(np.uint8)
        meta = {"config": json.dumps(asdict(self.config)), "weights": json.dumps(self.weights),
                "classes": str(self.n_classes)}
        save_file({"counts": packed}, path, metadata=meta)

    @classmethod
    def load(cls, path: str) -> "KmerMemory":
        from safetensors import safe_open

        try:
            with safe_open(path, framework="numpy") as fh:
                meta = fh.metadata() or {}
                packed = fh.get_tensor("counts")
            config = MemoryConfig(**json.loads(meta["config"]))
            weights = tuple(json.loads(meta["weights"]))
            n_classes = int(meta["classes"])
        except InputError:
            raise
        except Exception as exc:  # safetensors raises several types for damaged files
            raise InputError(f"{path}: not a readable k-mer memory ({type(exc).__name__}: {exc})") from None
        if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] * 2 < n_classes:
            raise InputError(f"{path}: k-mer memory counts have an unexpected shape {packed.shape}")
        counts = np.empty((packed.shape[0], packed.shape[1] * 2), dtype=np.uint8)
        counts[:, 0::2], counts[:, 1::2] = packed & 15, packed >> 4
        return cls(config, counts[:, :n_classes], weights)


def load_memory(model_dir: str) -> "KmerMemory | None":
    """The memory stored beside a model, or None when it has none."""
    path = os.path.join(model_dir, FILE)
    return KmerMemory.load(path) if os.path.exists(path) else None
