"""Multi-task pretraining: MLM plus per-window annotation tracks read from a BED-like TSV.

Annotation format (tab-separated, ``#`` comments and a header line starting
with ``seq_id`` allowed)::

    seq_id  start  end  track  value

``start``/``end`` are 0-based, end-exclusive, on the forward strand of the
FASTA record ``seq_id``. A track whose values are all 0 or 1 is binary: a
window's label is 1 when it overlaps an interval of value 1. Any other track
is a regression: a window's target is the coverage-weighted mean value over
its bases (0 where uncovered), standardised with the mean and standard
deviation over training windows so that tracks of different units train at
similar scales. Intervals of one track should not overlap. Each track gets its own linear head on the mean-pooled
hidden state; the loss is MLM + the mean over tracks of binary cross-entropy
or squared error, times ``aux_weight``. See ``examples/pretrain_tracks.tsv``.

Example::

    tracks = read_tracks("tracks.tsv", genome)
    targets = tracks.targets(offsets, seq_len=512)    # (B, n_tracks) float32
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.objectives.common import IGNORE, LossParts, mean_pool, model_inputs, small_linear
from genotx.objectives.mlm import MaskedLM
from genotx.objectives.windows import step_rng


@dataclass
class Track:
    name: str
    binary: bool
    starts: np.ndarray  # genome coordinates, sorted
    ends: np.ndarray
    values: np.ndarray
    longest: int


@dataclass
class Tracks:
    tracks: list[Track]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tracks]

    def targets(self, offsets: np.ndarray, seq_len: int) -> np.ndarray:
        """Per-window target of every track for windows starting at genome ``offsets``."""
        out = np.zeros((len(offsets), len(self.tracks)), dtype=np.float32)
        for j, track in enumerate(self.tracks):
            lo = np.searchsorted(track.starts, offsets - track.longest, side="left")
            hi = np.searchsorted(track.starts, offsets + seq_len, side="left")
            for i, (a, b, o) in enumerate(zip(lo, hi, offsets)):
                overlap = np.clip(np.minimum(track.ends[a:b], o + seq_len) - np.maximum(track.starts[a:b], o), 0, None)
                if track.binary:
                    out[i, j] = float(np.any((overlap > 0) & (track.values[a:b] > 0)))
                else:
                    out[i, j] = float((overlap * track.values[a:b]).sum()) / seq_len
        return out


def _parse_line(path: str, number: int, line: str, genome) -> tuple[int, int, str, float]:
    fields = line.split("\t")
    if len(fields) != 5:
        raise InputError(f"{path}: line {number}: expected 5 tab-separated fields (seq_id start end track value), got {len(fields)}")
    seq_id, start, end, track, value = fields
    try:
        start_i, end_i, value_f = int(start), int(end), float(value)
    except ValueError:
        raise InputError(f"{path}: line {number}: start and end must be integers and value a number") from None
    try:
        rec = genome.index_of(seq_id)
    except InputError as exc:
        raise InputError(f"{path}: line {number}: {exc}") from None
    if not 0 <= start_i < end_i <= genome.lengths[rec]:
        raise InputError(f"{path}: line {number}: interval {start_i}-{end_i} is outside {seq_id} (0-{genome.lengths[rec]})")
    if not np.isfinite(value_f):
        raise InputError(f"{path}: line {number}: value must be finite")
    return int(genome.starts[rec]) + start_i, int(genome.starts[rec]) + end_i, track, value_f


def read_tracks(path: str, genome) -> Tracks:
    """Parse an annotation TSV against the records of ``genome``."""
    rows: dict[str, list] = {}
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read annotations ({exc.strerror or exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#") or line.startswith("seq_id\t"):
            continue
        start, end, name, value = _parse_line(path, number, line, genome)
        rows.setdefault(name, []).append((start, end, value))
    if not rows:
        raise InputError(f"{path}: no annotation intervals")
    tracks = []
    for name, intervals in rows.items():
        arr = np.array(sorted(intervals), dtype=np.float64)
        values = arr[:, 2]
        binary = bool(np.isin(values, (0.0, 1.0)).all())
        starts, ends = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)
        tracks.append(Track(name, binary, starts, ends, values, int((ends - starts).max())))
    return Tracks(tracks)


class MultiTask:
    """Objective ``multitask``: MLM + one head per annotation track."""

    name = "multitask"
    causal = False
    both_strands = True

    def __init__(self, *, tokenizer, tracks: Tracks, mask_rate: float, split, seed: int = 0, aux_weight: float = 1.0):
        self.mlm = MaskedLM(tokenizer=tokenizer, mask_rate=mask_rate)
        self.aux_weight = aux_weight
        self.tracks = tracks
        self.seq_len = split.seq_len
        # Target statistics over 1024 training windows: regression targets are standardised with
        # them and every head starts at the context-free prediction (base rate, mean), so the loss
        # starts at its baseline and early track gradients do not swamp the MLM's.
        offsets, _ = split.sample_offsets(step_rng(seed, 0, 1 << 20), 1024)
        sample = tracks.targets(offsets, self.seq_len)
        self.binary = np.array([t.binary for t in tracks.tracks])
        self.mean = np.where(self.binary, 0.0, sample.mean(0)).astype(np.float32)
        std = sample.std(0)
        self.std = np.where(self.binary | (std == 0), 1.0, std).astype(np.float32)
        rate = np.clip(sample.mean(0), 1e-3, 1 - 1e-3)
        self.initial_bias = np.where(self.binary, np.log(rate / (1 - rate)), 0.0).astype(np.float32)

    def heads(self, d_model: int) -> dict:
        import torch

        head = small_linear(d_model, len(self.tracks.tracks))
        with torch.no_grad():
            head.bias.copy_(torch.from_numpy(self.initial_bias))
        return {"tracks": head}

    def prepare(self, codes: np.ndarray, rng: np.random.Generator, offsets=None, **_) -> dict:
        import torch

        batch = self.mlm.prepare(codes, rng)
        targets = (self.tracks.targets(offsets, self.seq_len) - self.mean) / self.std
        batch["targets"] = torch.from_numpy(targets.astype(np.float32))
        return batch

    def loss(self, model, heads, batch: dict, out=None) -> LossParts:
        import torch
        import torch.nn.functional as F

        out = model(*model_inputs(batch["inputs"], batch["mask"]), logit_mask=batch["labels"] != IGNORE)
        parts = self.mlm.loss(model, heads, batch, out=out)
        predicted = heads["tracks"](mean_pool(out.hidden.float(), batch["mask"]))
        targets = batch["targets"]
        binary = torch.tensor([t.binary for t in self.tracks.tracks], device=predicted.device)
        per_track = torch.where(
            binary,
            F.binary_cross_entropy_with_logits(predicted, targets, reduction="none").mean(0),
            ((predicted - targets) ** 2).mean(0),
        )
        track_loss = per_track.mean()
        n = len(targets)
        parts.parts["tracks"] = (float(track_loss.detach()) * n, n)
        parts.total = parts.total + self.aux_weight * track_loss
        return parts
