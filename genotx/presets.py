"""Named practitioner presets: settings of `genotx pretrain` (and later finetune, scaling-sweep) as data.

A preset name is ``FAMILY-SIZE`` (``variant-small``); ``FAMILY`` alone means
the ``small`` size. A family fixes tokenizer, positional encoding, objective,
mixer and window length; the size fixes width, depth, heads and batch.
Explicit command-line flags override preset values. Every family records the
evidence behind it in ``source``.

Example::

    settings = resolve_preset("taxon-tiny")   # {'tokenizer': 'kmer6', 'pe': 'learned', ...}
"""

from __future__ import annotations

from genotx.errors import InputError

SIZES = {
    # d_model, layers, heads, batch: tiny runs in seconds on a laptop CPU; small is the
    # benchmark size (6 layers, d=256); base is BERT-base shaped (Devlin et al. 2019).
    "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4, "batch_size": 8},
    "small": {"d_model": 256, "n_layers": 6, "n_heads": 8, "batch_size": 32},
    "base": {"d_model": 768, "n_layers": 12, "n_heads": 12, "batch_size": 64},
}

FAMILIES = {
    "variant": {
        "summary": "variant effect: single-nucleotide tokens, RoPE, MLM, attention, ~1 kb",
        "settings": {"tokenizer": "char", "pe": "rope", "objective": "mlm", "mixer": "attention"},
        "seq_len": {"tiny": 256, "small": 1024, "base": 1024},
        "source": "genotx design recommendation: a substitution must change exactly one token, so "
        "masked-marginal scores compare like with like (GPN, Benegas et al. 2023 PNAS, single-nucleotide MLM "
        "for genome-wide variant effects); RoPE as in Nucleotide Transformer v2 (Dalla-Torre et al. 2024). "
        "In the genotx grid (docs/results/grid/small, one seed per cell) char-rope-mlm scored highest of the "
        "single-nucleotide cells (0.655 against 0.504-0.631); one seed, so the order is not resolved.",
    },
    "expression": {
        "summary": "expression: BPE, RoPE, AR, hybrid attention/SSM mixer, long input",
        "settings": {"tokenizer": "bpe:4096", "pe": "rope", "objective": "ar", "mixer": "hybrid"},
        "seq_len": {"tiny": 1024, "small": 8192, "base": 32768},
        "source": "genotx design recommendation: expression depends on distal enhancers tens of kb away "
        "(Enformer, Avsec et al. 2021), so the input must be long; BPE shortens it about 4-5x (DNABERT-2, "
        "Zhou et al. 2023) and an SSM hybrid keeps cost linear in length (Evo, Nguyen et al. 2024). "
        "Multi-task (--objective multitask --annotations) is the alternative when tracks exist.",
    },
    "taxon": {
        "summary": "taxonomy of reads: 6-mer tokens, learned absolute PE, contrastive, attention, 150-300 bp",
        "settings": {"tokenizer": "kmer6", "pe": "learned", "objective": "contrastive", "mixer": "attention"},
        "seq_len": {"tiny": 150, "small": 250, "base": 300},
        "source": "genotx design recommendation: inputs are short reads of fixed length, so absolute "
        "positions suffice; overlapping 6-mers as in DNABERT (Ji et al. 2021); a contrastive embedding "
        "clusters reads of one taxon (read-embedding classifiers in the line of Kraken-style k-mer methods). "
        "The genotx grid (docs/results/grid/small) agrees on overlapping 6-mers (best taxon macro-F1 under "
        "every PE); learned PE scored 0.415 against 0.441 for RoPE there, one seed each, too close to change.",
    },
    "generation": {
        "summary": "sequence generation: single-nucleotide tokens, RoPE, AR, hybrid mixer",
        "settings": {"tokenizer": "char", "pe": "rope", "objective": "ar", "mixer": "hybrid", "rc_aug": True},
        "seq_len": {"tiny": 256, "small": 2048, "base": 8192},
        "source": "genotx design recommendation: generation needs base-level control and long context at "
        "linear cost, as in Evo (Nguyen et al. 2024: byte-level AR, StripedHyena hybrid) and HyenaDNA "
        "(Nguyen et al. 2023: single-nucleotide AR, RC augmentation). The genotx grid cannot choose among PEs "
        "here: its char AR models reached 1.357-1.361 nats/base, barely below the 1.386 of base frequencies "
        "alone, so they used little context, and a model that uses none looks flat at every length.",
    },
    "regulatory": {
        "summary": "regulatory elements (promoters, TF binding, splice sites): overlapping 6-mers, RoPE, MLM, attention, 512 bp",
        "settings": {"tokenizer": "kmer6", "pe": "rope", "objective": "mlm", "mixer": "attention"},
        "seq_len": {"tiny": 256, "small": 512, "base": 1024},
        "source": "genotx grid (docs/results/grid/small: d_model 64, 4 layers, 1.5e12 training FLOPs per cell, "
        "one seed per cell, no cell fine-tuned without pretraining), which disagreed with the DNABERT-2 recipe "
        "this preset first followed (BPE + ALiBi + MLM, Zhou et al. 2023): overlapping 6-mers (DNABERT, Ji et "
        "al. 2021) led on splice sites and Oct4/MafK peaks under every PE and objective (mean macro-F1 over the "
        "three regulatory sets 0.858 for kmer6-rope-mlm, 0.751 for bpe4096-alibi-mlm), but not on the 22 "
        "E. coli promoters of its validation set, where BPE scored higher in 5 of 8 settings. Without a "
        "no-pretraining control the 6-mer lead may come from the 4,096-entry embedding at fine-tuning rather "
        "than from pretraining; with one seed, the PE and objective orders (learned/RoPE ahead, MLM ahead of "
        "AR) are not resolved. `finetune --task regulatory` without --preset uses its own recipe "
        "(docs/finetune.md).",
    },
}


def preset_names() -> list[str]:
    """Every accepted preset name, e.g. ``['variant-tiny', 'variant-small', ...]``."""
    return [f"{family}-{size}" for family in FAMILIES for size in SIZES]


def resolve_preset(name: str) -> dict:
    """Training settings of preset ``name`` (TrainConfig field names); unknown names are an InputError."""
    family, _, size = name.partition("-")
    size = size or "small"
    if family not in FAMILIES or size not in SIZES:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    entry = FAMILIES[family]
    return {**entry["settings"], **SIZES[size], "seq_len": entry["seq_len"][size]}


def preset_table() -> list[tuple]:
    """Rows (name, tokenizer, pe, objective, mixer, seq_len, d_model, layers, summary, source)."""
    rows = []
    for name in preset_names():
        s = resolve_preset(name)
        family = name.split("-")[0]
        rows.append((name, s["tokenizer"], s["pe"], s["objective"], s["mixer"], s["seq_len"], s["d_model"],
                     s["n_layers"], FAMILIES[family]["summary"], FAMILIES[family]["source"]))
    return rows
