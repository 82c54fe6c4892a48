"""Reverse-complement equivariance: outputs of revcomp(x) are the revcomp of the outputs of x."""

import itertools

import pytest
import torch

from genotx.models import GenomicModel, ModelConfig
from genotx.models.config import MIXERS
from genotx.models.rc import reverse_index
from genotx.tokenizers import build_tokenizer

torch.set_num_threads(1)
TOKENIZERS = {"char": build_tokenizer("char"), "kmer3": build_tokenizer("kmer", k=3, stride=3)}
LENGTHS = torch.tensor([21, 14, 6])  # right padded to 21


def rc_model(tok, **changes):
    options = dict(vocab_size=tok.vocab_size, d_model=32, n_layers=2, n_heads=4, window=3, n_global=0,
                   hybrid_pattern="MA", rc_equivariant=True, complement_ids=tuple(tok.complement_ids.tolist()))
    options.update(changes)
    torch.manual_seed(0)
    return GenomicModel(ModelConfig(**options)).eval()


def strands(tok):
    """A padded batch of real encoded DNA, its reverse complement, the mask and the flip index."""
    seqs = ["ACGTTGCAAGGCTTAACGGATCCATGACGTTAGCATGCAAGTCCATTGACGATCAGCTAGCTAGGACTTTAGCAAC"[i * 5:] for i in range(3)]
    rows = [torch.as_tensor(tok.encode(s)[:n].astype("int64")) for s, n in zip(seqs, LENGTHS.tolist())]
    ids = torch.zeros(3, 21, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    mask = torch.arange(21)[None, :] < LENGTHS[:, None]
    index = reverse_index(LENGTHS, 21)
    rc_ids = torch.as_tensor(tok.complement_ids)[torch.gather(ids, 1, index)]
    return ids, rc_ids, mask, index


def flip(x, index):
    return torch.gather(x, 1, index.reshape(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


CASES = [(m, pe) for m, pe in itertools.product(MIXERS, ["rope", "alibi", "sinusoidal", "learned", "hierarchical"])
         if not (pe == "alibi" and m == "linear")]


@pytest.mark.parametrize("mixer, pe", CASES)
def test_lm_logits_of_the_reverse_strand_are_the_complemented_flipped_logits(mixer, pe):
    tok = TOKENIZERS["char"]
    model = rc_model(tok, mixer=mixer, pe=pe)
    ids, rc_ids, mask, index = strands(tok)
    with torch.no_grad():
        a, b = model(ids, attention_mask=mask), model(rc_ids, attention_mask=mask)
    expected = flip(a.logits, index)[..., tok.complement_ids]
    torch.testing.assert_close(b.logits[mask], expected[mask], atol=1e-5, rtol=0)
    torch.testing.assert_close(b.hidden[mask], flip(a.hidden, index)[mask], atol=1e-5, rtol=0)


@pytest.mark.parametrize("mixer", MIXERS)
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_sequence_outputs_are_the_same_for_both_strands(mixer, pooling):
    tok = TOKENIZERS["kmer3"]
    model = rc_model(tok, mixer=mixer, head="classify", n_outputs=3, pooling=pooling)
    ids, rc_ids, mask, _ = strands(tok)
    with torch.no_grad():
        torch.testing.assert_close(model(rc_ids, attention_mask=mask).logits, model(ids, attention_mask=mask).logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mixer", ["attention", "mamba"])
def test_per_token_outputs_follow_the_base_to_the_other_strand(mixer):
    tok = TOKENIZERS["char"]
    model = rc_model(tok, mixer=mixer, head="token_classify", n_outputs=2, pe="hierarchical")
    ids, rc_ids, mask, index = strands(tok)
    annotation = torch.stack([torch.arange(21) % 4, torch.arange(21) // 7, torch.arange(21) * 2], dim=-1).expand(3, 21, 3)
    with torch.no_grad():
        a = model(ids, attention_mask=mask, annotation=annotation).logits
        b = model(rc_ids, attention_mask=mask, annotation=flip(annotation, index)).logits
    torch.testing.assert_close(b[mask], flip(a, index)[mask], atol=1e-5, rtol=0)


def test_logit_mask_of_an_rc_model_selects_rows_of_its_full_logits():
    tok = TOKENIZERS["char"]
    model = rc_model(tok)
    ids, _, mask, _ = strands(tok)
    chosen = mask & (torch.arange(21) % 3 == 0)
    with torch.no_grad():
        full = model(ids, attention_mask=mask).logits
        torch.testing.assert_close(model(ids, attention_mask=mask, logit_mask=chosen).logits, full[chosen])


def test_an_rc_model_is_not_strand_blind():
    # Equivariant, not invariant: the two strands of a non-palindrome get different logits.
    tok = TOKENIZERS["char"]
    model = rc_model(tok)
    ids, rc_ids, mask, _ = strands(tok)
    with torch.no_grad():
        assert not torch.allclose(model(ids, attention_mask=mask).logits, model(rc_ids, attention_mask=mask).logits, atol=1e-3)
