"""Motifs from trained models: attention-weighted PFMs, discovery, JASPAR matching, logos.

Everything here except `genotx.motifs.collect` is numpy only; `collect` runs
the model (torch) and turns token attention into base-level scores; `null`
sets each motif's windows beside random windows (did the model place them?).
"""

from genotx.motifs.compare import Match, TargetSet, benjamini_hochberg, match, similarity
from genotx.motifs.discover import Motif, align, discover, find_peaks
from genotx.motifs.heads import HeadScores
from genotx.motifs.meme import MemeMotif, read_meme, write_meme
from genotx.motifs.null import SelectionNull, selection_null
from genotx.motifs.pfm import (
    attention_weighted_pfm,
    background,
    consensus,
    encode,
    information_content,
    one_hot,
    revcomp_pfm,
)

__all__ = [
    "Match", "TargetSet", "benjamini_hochberg", "match", "similarity",
    "Motif", "align", "discover", "find_peaks", "HeadScores", "SelectionNull", "selection_null",
    "MemeMotif", "read_meme", "write_meme",
    "attention_weighted_pfm", "background", "consensus", "encode", "information_content", "one_hot", "revcomp_pfm",
]
