"""Genome windows for pretraining: numpy arrays of base codes, never per-sample string slicing.

The genome (`genotx.io.genome.Genome`) is one ``uint8`` array of base codes
with per-sequence offsets. The last ``eval_fraction`` of every sequence is
held out; training windows come from the rest. The windows of a step are a
pure function of ``(seed, step)``: a resumed run sees exactly the data of an
uninterrupted one, and each DDP rank takes its own slice of the global batch.

Example::

    genome = load_genome(["genome.fa.gz"])
    split = GenomeSplit(genome, seq_len=512, eval_fraction=0.05)
    batch = split.train_windows(seed=0, step=7, batch_size=32)  # batch.codes: (32, 512) uint8
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genotx.errors import InputError
from genotx.io.codes import N_CODE, revcomp_codes
from genotx.io.genome import Genome


def step_rng(seed: int, step: int, stream: int) -> np.random.Generator:
    """Independent generator for one (seed, step, purpose): the basis of exact resume."""
    return np.random.default_rng([seed, step, stream])


class Windows(NamedTuple):
    """A batch of windows: (B, L) codes as read on their strand, forward-strand genome offsets, strand flags."""

    codes: np.ndarray
    offsets: np.ndarray
    minus: np.ndarray


class GenomeSplit:
    """Train/eval regions of every sequence and window sampling from them."""

    def __init__(self, genome: Genome, *, seq_len: int, eval_fraction: float, max_n_fraction: float = 0.5):
        if seq_len < 1:
            raise InputError(f"--seq-len must be positive, got {seq_len}")
        if not 0.0 < eval_fraction < 1.0:
            raise InputError(f"--eval-fraction must be between 0 and 1, got {eval_fraction}")
        longest = int(genome.lengths.max())
        if seq_len > longest:
            raise InputError(
                f"--seq-len {seq_len} is longer than every input sequence (longest: {longest} bp); "
                "lower --seq-len or add longer sequences"
            )
        self.genome = genome
        self.seq_len = seq_len
        self.max_n_fraction = max_n_fraction
        eval_len = np.ceil(genome.lengths * eval_fraction).astype(np.int64)
        train_len = genome.lengths - eval_len
        self.train_starts, self.train_lengths = genome.starts, train_len
        self.eval_starts, self.eval_lengths = genome.starts + train_len, eval_len
        # Number of window start positions inside each region.
        self._train_slots = np.maximum(train_len - seq_len + 1, 0)
        if self._train_slots.sum() == 0:
            raise InputError(
                f"no training window of {seq_len} bp fits in the first {1 - eval_fraction:.0%} of any "
                "sequence; lower --seq-len or --eval-fraction"
            )
        if np.maximum(eval_len - seq_len + 1, 0).sum() == 0:
            raise InputError(
                f"no evaluation window of {seq_len} bp fits in the held-out {eval_fraction:.0%} of any "
                f"sequence (longest held-out part: {int(eval_len.max())} bp); raise --eval-fraction or "
                "lower --seq-len"
            )
        self._cum_slots = np.cumsum(self._train_slots)

    @property
    def train_bases(self) -> int:
        return int(self.train_lengths.sum())

    def _gather(self, offsets: np.ndarray) -> np.ndarray:
        return self.genome.codes[offsets[:, None] + np.arange(self.seq_len)[None, :]]

    def _n_ok(self, windows: np.ndarray) -> np.ndarray:
        return (windows == N_CODE).mean(axis=1) <= self.max_n_fraction

    def sample_offsets(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Genome offsets of ``count`` training windows (mostly-N ones redrawn) and their record index."""
        total = int(self._cum_slots[-1])
        offsets = np.empty(count, dtype=np.int64)
        records = np.empty(count, dtype=np.int64)
        todo = np.arange(count)
        for _ in range(64):
            slot = rng.integers(0, total, size=len(todo))
            rec = np.searchsorted(self._cum_slots, slot, side="right")
            within = slot - (self._cum_slots[rec] - self._train_slots[rec])
            offsets[todo] = self.train_starts[rec] + within
            records[todo] = rec
            ok = self._n_ok(self._gather(offsets[todo]))
            todo = todo[~ok]
            if len(todo) == 0:
                return offsets, records
        raise InputError(
            f"could not find training windows with at most {self.max_n_fraction:.0%} N; the input is mostly N"
        )

    def train_windows(
        self, *, seed: int, step: int, batch_size: int, rank: int = 0, world: int = 1, both_strands: bool = True
    ) -> Windows:
        """The (batch_size, seq_len) windows of this rank's share of step ``step``."""
        rng = step_rng(seed, step, 0)
        offsets, _ = self.sample_offsets(rng, batch_size * world)
        minus = rng.random(batch_size * world) < 0.5 if both_strands else np.zeros(batch_size * world, bool)
        mine = slice(rank * batch_size, (rank + 1) * batch_size)
        windows = self._gather(offsets[mine])
        flip = minus[mine]
        windows[flip] = revcomp_codes(windows[flip])
        return Windows(windows, offsets[mine], flip)

    def eval_offsets(self, max_windows: int) -> np.ndarray:
        """Genome offsets of non-overlapping held-out windows, evenly thinned to ``max_windows``."""
        offsets = []
        for start, length in zip(self.eval_starts, self.eval_lengths):
            n = int(length // self.seq_len)
            offsets.extend(int(start) + self.seq_len * np.arange(n))
        offsets = np.array(offsets, dtype=np.int64)
        offsets = offsets[self._n_ok(self._gather(offsets))] if len(offsets) else offsets
        if len(offsets) == 0:
            raise InputError("every held-out window is mostly N; nothing to evaluate on")
        if len(offsets) > max_windows:
            offsets = offsets[np.linspace(0, len(offsets) - 1, max_windows).round().astype(np.int64)]
        return offsets

    def eval_windows(self, max_windows: int) -> Windows:
        """Fixed held-out windows (independent of the seed): alternately forward and reverse strand."""
        offsets = self.eval_offsets(max_windows)
        windows = self._gather(offsets)
        minus = np.arange(len(offsets)) % 2 == 1
        windows[minus] = revcomp_codes(windows[minus])
        return Windows(windows, offsets, minus)
