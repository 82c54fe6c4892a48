"""Each objective learns something real in 20 steps of a tiny model on the S. aureus slice.

"Learns" means the held-out loss ends below the loss of a model that ignores
context: the unigram entropy of the held-out tokens for the language-model
losses, log(batch size) for InfoNCE. Overlapping 3-mers are used because
neighbouring tokens share bases, which a model picks up within a few steps.
"""

from __future__ import annotations

import math
import os

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")
GENOME = os.path.join(DATA, "pretrain_saureus.fa.gz")
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")

# ALiBi for the masked objectives: its distance penalty makes attention local from the first
# step, so a masked token sees its neighbours before attention has learnt anything.
CASES = {
    "mlm": dict(objective="mlm", pe="alibi", lr=0.005),
    "ar_rc_aug": dict(objective="ar", rc_aug=True, lr=0.01),
    "contrastive_views": dict(objective="contrastive", lr=0.003),
    "contrastive_orthologs": dict(objective="contrastive", lr=0.003, pairs=os.path.join(EXAMPLES, "pretrain_pairs.tsv")),
    # Combined objectives: the auxiliary loss at 0.1 so that 20 steps suffice for the MLM part.
    "multitask": dict(objective="multitask", pe="alibi", lr=0.005, aux_weight=0.1,
                      annotations=os.path.join(EXAMPLES, "pretrain_tracks.tsv")),
    "mlm+contrastive": dict(objective="mlm+contrastive", pe="alibi", lr=0.005, aux_weight=0.1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_objective_beats_the_context_free_baseline_after_20_steps(case, tmp_path):
    from genotx.runtime import settings
    from genotx.train.config import TrainConfig
    from genotx.train.loop import pretrain

    settings.quiet = True
    cfg = TrainConfig(tokenizer="kmer3", d_model=64, n_layers=2, n_heads=4, seq_len=96, batch_size=16,
                      eval_fraction=0.2, eval_windows=128, max_steps=20, warmup_fraction=0.1, save_every=0,
                      **CASES[case])
    record = pretrain(cfg, [GENOME], str(tmp_path / case))
    assert record["loss"] < record["baseline_loss"], (record["loss"], record["baseline_loss"])
    if "contrastive" in case and case != "mlm+contrastive":
        expected = "ortholog pairs" if "orthologs" in case else "augmented views"
        assert record["positives"].startswith(expected)
    if case == "mlm+contrastive":
        assert set(record["losses"]) == {"mlm", "contrastive"}
        assert record["losses"]["contrastive"] < math.log(16)  # the InfoNCE part learns too
    if case == "multitask":
        assert set(record["losses"]) == set(record["baseline_losses"]) == {"mlm", "tracks"}
        assert record["losses"]["tracks"] < 2 * record["baseline_losses"]["tracks"]  # heads start at the base rate
