"""GenomicModel forward pass: every PE x mixer, causality, windows, relative PEs, padding, heads."""

import itertools

import pytest
import torch

from genotx.errors import InputError
from genotx.models import GenomicModel, ModelConfig
from genotx.models.config import MIXERS, PES

torch.set_num_threads(1)
VOCAB = 10  # char tokenizer: 5 specials, A C G T N


def tiny(**changes) -> GenomicModel:
    options = dict(vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, max_len=64, window=4, hybrid_pattern="MA")
    options.update(changes)
    torch.manual_seed(0)
    return GenomicModel(ModelConfig(**options)).eval()


def bases(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(5, 9, (batch, length), generator=torch.Generator().manual_seed(seed))


SUPPORTED = [(pe, mixer) for pe, mixer in itertools.product(PES, MIXERS) if not (pe == "alibi" and mixer == "linear")]


@pytest.mark.parametrize("pe, mixer", SUPPORTED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_pe_and_mixer_runs_forward_and_backward_without_nan(pe, mixer, dtype):
    model = tiny(pe=pe, mixer=mixer, causal=mixer == "hybrid").train()
    ids = bases(2, 24)
    mask = torch.ones(2, 24, dtype=torch.bool)
    mask[1, 17:] = False
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        out = model(ids, attention_mask=mask)
        loss = out.logits.float().logsumexp(-1).mean()
    loss.backward()
    assert out.hidden.shape == (2, 24, 32) and out.logits.shape == (2, 24, VOCAB)
    assert torch.isfinite(out.logits.float()).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("mixer", MIXERS)
def test_causal_models_ignore_future_tokens(mixer):
    model = tiny(mixer=mixer, causal=True)
    ids = bases(1, 40)
    changed = ids.clone()
    changed[0, 25] = 5 + (ids[0, 25] - 4) % 4
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    assert torch.equal(a[:, :25], b[:, :25])
    assert not torch.allclose(a[:, 25:], b[:, 25:])


@pytest.mark.parametrize("causal", [False, True])
def test_window_attention_ignores_tokens_outside_the_window(causal):
    model = tiny(mixer="window", n_layers=1, window=3, causal=causal, pe="alibi")
    ids = bases(1, 32)
    changed = ids.clone()
    changed[0, 20] = 5 + (ids[0, 20] - 4) % 4
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    differs = (a - b).abs().amax(-1)[0] > 0
    expected = torch.zeros(32, dtype=torch.bool)
    expected[20: 24] = True  # the changed token and the 3 after it see position 20
    if not causal:
        expected[17: 20] = True
    assert torch.equal(differs, expected)


def test_global_tokens_see_and_are_seen_by_the_whole_sequence():
    model = tiny(mixer="window", n_layers=1, window=2, n_global=1)
    ids = bases(1, 32)
    changed = ids.clone()
    changed[0, 30] = 5 + (ids[0, 30] - 4) % 4
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
    differs = (a - b).abs().amax(-1)[0] > 0
    assert differs[0] and differs[28:].all() and not differs[1:28].any()
    changed = ids.clone()
    changed[0, 0] = 5 + (ids[0, 0] - 4) % 4
    with torch.no_grad():
        assert ((model(changed).logits - a).abs().amax(-1) > 0).all()


@pytest.mark.parametrize("pe", ["rope", "alibi"])
def test_relative_pe_attention_scores_depend_only_on_the_offset(pe):
    # First-layer scores of a causal model, up to the softmax normaliser of each row,
    # must not move when the same tokens sit 7 positions further right.
    model = tiny(pe=pe, causal=True, n_layers=1)
    ids = bases(1, 20)
    shifted = torch.cat([bases(1, 7, seed=1), ids], dim=1)
    with torch.no_grad():
        p = model(ids, output_attentions=True).attentions[0][0]
        q = model(shifted, output_attentions=True).attentions[0][0][:, 7:, 7:]
    # log p_ij - log p_i0 = s_ij - s_i0 for the keys j <= i both calls allow.
    tril = torch.ones(20, 20, dtype=torch.bool).tril()
    rel_p = (p.log() - p[..., :1].log())[:, tril]
    rel_q = (q.log() - q[..., :1].log())[:, tril]
    torch.testing.assert_close(rel_p, rel_q, atol=1e-4, rtol=0)


def test_absolute_pe_scores_change_with_the_shift():
    # The same check fails for sinusoidal positions, so the test above has teeth.
    model = tiny(pe="sinusoidal", causal=True, n_layers=1)
    ids = bases(1, 20)
    shifted = torch.cat([bases(1, 7, seed=1), ids], dim=1)
    with torch.no_grad():
        p = model(ids, output_attentions=True).attentions[0][0]
        q = model(shifted, output_attentions=True).attentions[0][0][:, 7:, 7:]
    assert ((p.log() - p[..., :1].log()) - (q.log() - q[..., :1].log())).tril().abs().max() > 1e-3


@pytest.mark.parametrize("mixer", MIXERS)
def test_padding_leaves_the_real_tokens_of_a_row_unchanged(mixer):
    model = tiny(mixer=mixer)
    ids = bases(2, 30)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 19:] = False
    with torch.no_grad():
        padded = model(ids, attention_mask=mask).logits[1, :19]
        alone = model(ids[1:, :19]).logits[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)


def test_attention_probabilities_cover_each_attention_layer_and_sum_to_one():
    model = tiny(mixer="hybrid", hybrid_pattern="MA", n_layers=4)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[0, 9:] = False
    out = model(bases(2, 12), attention_mask=mask, output_attentions=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 4, 12, 12)
    sums = out.attentions[1].sum(-1)
    torch.testing.assert_close(sums[1], torch.ones(4, 12))
    torch.testing.assert_close(sums[0, :, :9], torch.ones(4, 9))
    assert model(bases(2, 12)).attentions is None
    assert tiny(mixer="mamba")(bases(1, 8), output_attentions=True).attentions == []


def test_logit_mask_returns_the_selected_rows_of_the_full_logits():
    model = tiny()
    ids = bases(2, 16)
    chosen = torch.rand(2, 16, generator=torch.Generator().manual_seed(3)) < 0.3
    with torch.no_grad():
        full = model(ids).logits
        some = model(ids, logit_mask=chosen).logits
    torch.testing.assert_close(some, full[chosen])


@pytest.mark.parametrize("pe, mixer, padded, layer_scale", [
    ("rope", "attention", False, 0.0), ("learned", "attention", False, 0.0),
    ("alibi", "attention", False, 0.0),  # position-dependent scores: the last block runs whole
    ("rope", "attention", True, 0.0), ("rope", "hybrid", False, 0.0), ("rope", "linear", False, 0.0),
    ("rope", "attention", False, 0.5),
])
def test_masked_only_gives_the_logits_and_gradients_of_the_full_pass(pe, mixer, padded, layer_scale):
    model = tiny(pe=pe, mixer=mixer, hybrid_pattern="AM", layer_scale=layer_scale).train()
    ids = bases(3, 40)
    mask = torch.ones(3, 40, dtype=torch.bool)
    if padded:
        mask[1, 29:] = False
    chosen = (torch.rand(3, 40, generator=torch.Generator().manual_seed(4)) < 0.2) & mask
    chosen[2] = False  # a row without a masked token
    grads = []
    for masked_only in (False, True):
        out = model(ids, attention_mask=mask, logit_mask=chosen, masked_only=masked_only)
        out.logits.square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        model.zero_grad()
        if masked_only:
            assert out.hidden.shape == (int(chosen.sum()), 32)
            torch.testing.assert_close(out.logits, full, rtol=1e-5, atol=1e-5)
        full = out.logits.detach()
    for a, b in zip(*grads):  # float32, sums of products in another order: 1e-5
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_masked_only_needs_a_logit_mask():
    with pytest.raises(InputError, match="logit_mask"):
        tiny()(bases(1, 8), masked_only=True)


def test_lm_logits_are_tied_to_the_token_embedding():
    model = tiny()
    out = model(bases(1, 8))
    torch.testing.assert_close(out.logits, out.hidden @ model.embed.weight.T)


@pytest.mark.parametrize("head, pooling, shape", [
    ("classify", "mean", (3, 4)), ("classify", "cls", (3, 4)), ("regress", "mean", (3, 4)), ("token_classify", "mean", (3, 11, 4)),
])
def test_task_heads_have_their_output_shapes(head, pooling, shape):
    model = tiny(head=head, n_outputs=4, pooling=pooling)
    assert model(bases(3, 11)).logits.shape == shape


def test_cls_pooling_reads_only_the_first_hidden_state():
    model = tiny(head="classify", n_outputs=2, pooling="cls")
    out = model(bases(1, 10))
    torch.testing.assert_close(out.logits[0], model.head.proj(out.hidden[0, 0]))


def test_mean_pooling_ignores_padding():
    model = tiny(head="regress", n_outputs=1)
    ids = bases(2, 20)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[0, 13:] = False
    with torch.no_grad():
        padded = model(ids, attention_mask=mask).logits[0]
        alone = model(ids[:1, :13]).logits[0]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)


def test_hierarchical_pe_without_annotation_uses_frame_from_position():
    model = tiny(pe="hierarchical")
    ids = bases(2, 15)
    positions = torch.arange(15).expand(2, 15)
    annotation = torch.stack([positions % 3, torch.zeros_like(positions), positions], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, model(ids, annotation=annotation).logits)
        exon = annotation.clone()
        exon[..., 1] = 2
        assert not torch.allclose(model(ids).logits, model(ids, annotation=exon).logits)


def test_hierarchical_annotation_values_are_checked():
    model = tiny(pe="hierarchical")
    bad = torch.zeros(1, 6, 3, dtype=torch.long)
    bad[0, 2, 0] = 5
    with pytest.raises(InputError, match="frame must be 0, 1, 2 or 3"):
        model(bases(1, 6), annotation=bad)


def test_out_of_vocabulary_ids_and_left_padding_are_refused():
    model = tiny()
    with pytest.raises(InputError, match=r"token ids must lie in \[0, 10\)"):
        model(torch.tensor([[5, 6, 12]]))
    left = torch.tensor([[False, True, True]])
    with pytest.raises(InputError, match="right-padded"):
        model(torch.tensor([[0, 5, 6]]), attention_mask=left)


def test_layer_scale_starts_the_blocks_nearly_shut_and_its_gains_learn_and_reload(tmp_path):
    from genotx.models import load_checkpoint, save_checkpoint
    from genotx.tokenizers import build_tokenizer

    ids = bases(2, 20)
    plain, scaled = tiny(dropout=0.0), tiny(dropout=0.0, layer_scale=1e-6)
    with torch.no_grad():  # the same weights: only the gains differ
        scaled.load_state_dict(plain.state_dict(), strict=False)
        embedded = scaled.norm(scaled.pe(torch.arange(20).expand(2, 20)) + scaled.embed(ids)
                               if scaled.pe is not None else scaled.embed(ids))
        shut = scaled(ids).hidden
        open_ = plain(ids).hidden
    torch.testing.assert_close(shut, embedded, rtol=1e-4, atol=1e-4)  # blocks add ~1e-6 of their output
    assert (open_ - embedded).abs().max() > 1e-2  # without gains they add their whole output
    scaled.train()
    scaled(ids).hidden.square().sum().backward()
    assert scaled.blocks[0].gain1.grad.abs().sum() > 0 and scaled.blocks[1].gain2.grad.abs().sum() > 0
    with torch.no_grad():
        scaled.blocks[0].gain1.fill_(0.25)
    save_checkpoint(tmp_path / "m", scaled.eval(), build_tokenizer("char"), {})
    loaded, _, _ = load_checkpoint(str(tmp_path / "m"))
    assert loaded.config.layer_scale == 1e-6
    torch.testing.assert_close(loaded.blocks[0].gain1, scaled.blocks[0].gain1)
    with pytest.raises(InputError, match="layer_scale"):
        ModelConfig(vocab_size=VOCAB, d_model=32, n_heads=4, layer_scale=-1.0)
