"""The default recipe of `genotx finetune --task regulatory`: model and training chosen from the data.

A user who gives no tuning flags gets settings that depend only on the
training set (docs/finetune.md has the benchmark, bench/regulatory.py makes it):

* tokens: single bases when the sequences are short enough to read base by
  base (up to 1 kb), else overlapping 6-mers;
* a convolutional stem of width 9 before the attention layers (single-base
  tokens only), so each position starts from a motif-sized window;
* positions from the data (`positional_information`): windows around a fixed
  anchor (splice junctions, aligned promoters) get learned absolute positions
  and CLS pooling (splice sites, seed 0, validation accuracy: RoPE + mean
  pooling 0.917, RoPE + CLS 0.941, learned + CLS 0.984); windows without one
  (ChIP-seq peaks, promoter vs background windows) get RoPE and max pooling
  over positions (Oct4/MafK, seed 0, test accuracy: learned + CLS 0.930,
  learned + max 0.939, RoPE + max 0.973);
* both strands: when the classes look strand-symmetric (`strand_symmetric`:
  each class's k-mer spectrum matches that of its reverse complements, as in
  ChIP-seq peaks), training reads a random strand of each sequence and the
  saved model averages its prediction over both strands; oriented elements
  (splice sites, promoters) keep their strand;
* size from the data: width 64, 2 layers up to 0.5 Mb of training sequence, else width 128, 3 layers;
  a tiny set (fewer than `TINY_SET` sequences, such as the 106 *E. coli* promoters) gets width 32
  and max pooling even when anchored, since a CLS token must learn where to look and that takes
  data (*E. coli* promoters, 5-fold CV, seeds 0, 1, 2: width 64 + CLS 0.764, 0.802, 0.689;
  width 32 + max 0.887, 0.840, 0.877; still below the one-hot CNN's 0.95-0.97; width 32 + CLS
  also scored 0.887 at seed 0, so the width is shown to matter and the pooling is not);
* with max pooling, blocks that start nearly shut (LayerScale, every residual branch times a
  learned per-channel gain starting at `LAYER_SCALE`): the fresh model begins as its embeddings
  and conv stem, a motif scanner, and opens its attention layers as they help. Without it the
  model never left chance on 500 bp sequences holding one planted REST site (training loss
  0.693 for 600 steps, also at lr 3e-3 and without both strands; flat in shorter probes with
  1 layer or learned positions), where the embeddings and stem alone learned it within 200
  steps. A CLS token reads the sequence only through attention, so with CLS pooling the
  blocks start open (splice sites, seed 0: 0.970 open, 0.940 shut);
* epochs instead of steps: up to `MAX_EPOCHS`, evaluated each epoch, stopping
  after `PATIENCE` epochs without a lower validation loss, the best weights kept.

Explicit flags win over every choice here.

Example::

    cfg, settings = regulatory_recipe(data, FinetuneConfig(task="regulatory"), given={})
    finetune(cfg, data, "model/", preset=settings)
"""

from __future__ import annotations

import dataclasses

import numpy as np

MAX_EPOCHS = 30
PATIENCE = 5  # evaluations (epochs) without a lower validation loss
MIN_STEPS = 300  # tiny sets (the 106 E. coli promoters) still get enough updates
CHAR_MAX_BASES = 1024
TINY_SET = 300  # training sequences below which the model is narrow and max-pools (one set measured: 85-95)
STEM_WIDTH = 9
LAYER_SCALE = 1e-4


def random_strand(seqs: list[str], rng: np.random.Generator) -> list[str]:
    """Each sequence as given or reverse-complemented, with probability 1/2 each."""
    from genotx.tokenizers import revcomp

    flips = rng.random(len(seqs)) < 0.5
    return [revcomp(s) if flip else s for s, flip in zip(seqs, flips)]


def kmer_spectrum(seqs: list[str], k: int = 3) -> np.ndarray:
    """Frequencies of the 4**k k-mers (A=0 .. T=3, first base most significant) over all sequences."""
    codes = np.full(256, 4, dtype=np.int64)
    for i, base in enumerate(b"ACGT"):
        codes[base] = i
        codes[base + 32] = i  # lowercase
    counts = np.zeros(4**k)
    for seq in seqs:
        c = codes[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
        if len(c) < k:
            continue
        words = np.zeros(len(c) - k + 1, dtype=np.int64)
        bad = np.zeros(len(c) - k + 1, dtype=bool)
        for j in range(k):
            part = c[j : j + len(words)]
            words = words * 4 + np.minimum(part, 3)
            bad |= part == 4
        counts += np.bincount(words[~bad], minlength=4**k)
    return counts / max(1.0, counts.sum())


def _revcomp_columns(k: int) -> np.ndarray:
    index = np.arange(4**k)
    rc = np.zeros_like(index)
    rest = index.copy()
    for _ in range(k):
        rc = rc * 4 + (3 - rest % 4)
        rest //= 4
    return rc


def strand_symmetric(seqs: list[str], labels: np.ndarray, k: int = 3, seed: int = 0) -> bool:
    """True when no class prefers one strand: its k-mer spectrum is as close to its
    reverse complement's as two random halves of the class are to each other.

    Oriented elements fail by far: splice sites (the intron side is T-rich on the
    transcribed strand) and promoters; randomly oriented ChIP-seq peaks pass.
    """
    rng = np.random.default_rng(seed)
    rc = _revcomp_columns(k)
    for c in np.unique(labels):
        members = [seqs[i] for i in np.flatnonzero(labels == c)]
        if len(members) < 20:
            continue
        spectrum = kmer_spectrum(members, k)
        to_rc = 0.5 * np.abs(spectrum - spectrum[rc]).sum()
        order = rng.permutation(len(members))
        half = len(members) // 2
        to_half = 0.5 * np.abs(kmer_spectrum([members[i] for i in order[:half]], k)
                               - kmer_spectrum([members[i] for i in order[half:]], k)).sum()
        if to_rc > to_half:
            return False
    return True


ANCHOR_BITS = 1.0  # positional information above which a set counts as anchored


def positional_information(seqs: list[str], labels: np.ndarray, max_positions: int = CHAR_MAX_BASES) -> float:
    """Bits per sequence that a base's position adds to the class's base composition, averaged over classes.

    For each class, the sum over positions (from the sequence start, up to the
    class's median length) of KL(base frequencies at the position || the class's
    overall base frequencies), less the expected small-sample excess
    (3 / (2 n ln 2) per position), never below 0. Windows around a fixed anchor
    score high (splice junctions 4.2, E. coli promoters 3.3 bits); ChIP-seq peaks
    and promoter/background windows without a common anchor score near 0
    (Oct4/MafK 0.14, fly promoters 0.25).
    """
    from genotx.io.codes import CODE_OF_BYTE

    total = 0.0
    for c in np.unique(labels):
        members = [seqs[i] for i in np.flatnonzero(labels == c)]
        width = min(max_positions, int(np.median([len(s) for s in members])))
        counts = np.zeros((width, 5))
        for seq in members:
            codes = CODE_OF_BYTE[np.frombuffer(seq[:width].encode("ascii"), dtype=np.uint8)]
            counts[np.arange(len(codes)), codes] += 1
        counts = counts[:, :4]  # N carries no composition
        n = counts.sum(1)
        if counts.sum() == 0:
            continue
        freq = (counts + 0.5) / (n[:, None] + 2)
        overall = counts.sum(0) / counts.sum()
        overall = np.maximum(overall, 1e-9)
        kl = (freq * np.log2(freq / overall)).sum(1) - 3 / (2 * np.maximum(n, 1) * np.log(2))
        total += len(members) / len(labels) * max(0.0, float(kl[n > 0].sum()))
    return total


def regulatory_recipe(data, cfg, given: dict, tokenizer: str | None = None, preset: str | None = None,
                      pretrained: bool = False):
    """(FinetuneConfig, model settings of a fresh model) for ``data``; ``given`` holds the flags the user set
    (None where not set). With --preset or --from the model is theirs and only the training choices apply."""
    from genotx.presets import resolve_preset

    seqs = data.train_seqs
    lengths = np.array([len(s) for s in seqs])
    if pretrained:
        spec = None  # the pretrained model's own tokenizer
    elif preset:
        spec = tokenizer or resolve_preset(preset)["tokenizer"]
    else:
        spec = tokenizer or ("char" if np.percentile(lengths, 90) <= CHAR_MAX_BASES else "kmer6")
    small = lengths.sum() <= 500_000
    tiny = len(seqs) < TINY_SET
    # Anchored windows (a junction, a start site): where a base sits matters, so learned positions and a CLS
    # token that reads them. Unanchored ones (peaks, promoter vs background windows): a site counts wherever
    # it is, so relative positions (RoPE) and max pooling over positions, as a motif scanner.
    anchored = positional_information(seqs, data.train_targets) >= ANCHOR_BITS
    pooling = given.get("pooling") or ("cls" if anchored and not tiny else "max")
    # Max pooling reads every position's own evidence, so blocks may start shut; a CLS token sees the
    # sequence only through attention, so its blocks start open (splice sites, seed 0: 0.970 open, 0.940 shut).
    scale = LAYER_SCALE if pooling == "max" else 0.0
    settings = {"name": "regulatory recipe", "tokenizer": spec,
                "pe": given.get("pe") or ("learned" if anchored else "rope"),
                "mixer": "attention",
                "d_model": 32 if tiny else 64 if small else 128, "n_layers": 2 if small else 3, "n_heads": 4,
                "layer_scale": scale if given.get("layer_scale") is None else given["layer_scale"]}
    symmetric = strand_symmetric(seqs, data.train_targets, seed=cfg.seed)
    batch = given.get("batch_size") or 32
    per_epoch = max(1, -(-len(seqs) // batch))
    steps = max(MIN_STEPS, MAX_EPOCHS * per_epoch)
    choices = {
        "batch_size": batch, "lr": 1e-3, "weight_decay": 0.05, "dropout": 0.1,
        "steps": steps, "warmup": max(10, steps // 20), "eval_every": max(per_epoch, MIN_STEPS // MAX_EPOCHS),
        "patience": PATIENCE, "select": "loss", "rc_aug": symmetric,
    }
    if not (pretrained or preset):
        choices["pooling"] = pooling
    if spec == "char" and not pretrained:
        choices.update(conv_stem=STEM_WIDTH if not preset else 0, strand_average=symmetric)
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {k: v for k, v in choices.items() if k in fields and given.get(k) is None}
    return dataclasses.replace(cfg, **changes), settings
