"""The mixers' tensor ops against plain references: banded window attention, linear attention, Mamba's scan."""

import itertools

import pytest
import torch

from genotx.ops.attention import alibi_slopes, attention, banded, reference
from genotx.ops.rope import rope
from genotx.models import GenomicModel, ModelConfig
from genotx.models.mixers import Context
from genotx.ops.linear_attention import feature_map, linear_attention
from genotx.ops.mamba_ssm_shim import import_mamba_ssm
from genotx.ops.scan import reference as scan_reference

torch.set_num_threads(1)


def explicit_linear_attention(q, k, v, q_rot, k_rot, causal, key_mask=None):
    """The O(L^2) form: out_i = sum_j (qr_i . kr_j) v_j / sum_j (q_i . k_j) over allowed j."""
    allowed = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool)
    if causal:
        allowed = allowed.tril()
    allowed = allowed[None, None]
    if key_mask is not None:
        allowed = allowed & key_mask[:, None, None, :]
    a = (q_rot @ k_rot.transpose(-1, -2)) * allowed
    b = (q @ k.transpose(-1, -2)) * allowed
    return (a @ v) / b.sum(-1, keepdim=True)


def features(seed, shape=(2, 3, 150, 8)):
    g = torch.Generator().manual_seed(seed)
    q, k = feature_map(torch.randn(shape, generator=g, dtype=torch.float64)), feature_map(torch.randn(shape, generator=g, dtype=torch.float64))
    v = torch.randn(shape[:-1] + (5,), generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rotate", [False, True])
def test_linear_attention_equals_its_explicit_quadratic_form(causal, rotate):
    q, k, v = features(0)
    q_rot, k_rot = rope(q, k, offset=3) if rotate else (q, k)
    key_mask = None if causal else torch.arange(150)[None, :] < torch.tensor([[150], [97]])
    out, _ = linear_attention(q, k, v, causal=causal, q_rot=q_rot, k_rot=k_rot, key_mask=key_mask, chunk=64)
    expected = explicit_linear_attention(q, k, v, q_rot, k_rot, causal, key_mask)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=1e-10)  # float64: rounding only


def test_causal_linear_attention_state_continues_the_sequence():
    q, k, v = features(1)
    whole, _ = linear_attention(q, k, v, causal=True, chunk=16)
    first, state = linear_attention(q[:, :, :70], k[:, :, :70], v[:, :, :70], causal=True, chunk=16)
    rest, _ = linear_attention(q[:, :, 70:], k[:, :, 70:], v[:, :, 70:], causal=True, state=state, chunk=16)
    torch.testing.assert_close(torch.cat([first, rest], dim=2), whole, atol=1e-10, rtol=1e-10)


def scan_inputs(seed, batch=2, dim=6, state=4, length=90, delta_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return dict(u=r(batch, dim, length), delta=r(batch, dim, length) * delta_scale,
                A=-torch.rand(dim, state, generator=g) * 8, B=r(batch, state, length), C=r(batch, state, length),
                D=r(dim), z=r(batch, dim, length), delta_bias=r(dim))


@pytest.mark.parametrize("delta_scale", [1.0, 40.0])  # 40: decays far past the float32 range within one chunk
def test_torch_scan_matches_mamba_ssm_reference_scan(delta_scale):
    # Tolerance: both accumulate in float32 (ours in float64 inside chunks); 1e-5 relative to the output scale.
    inputs = scan_inputs(0, delta_scale=delta_scale)
    ref_out, ref_state = import_mamba_ssm().selective_scan_ref(**inputs, delta_softplus=True, return_last_state=True)
    out, state = scan_reference.selective_scan(**inputs, delta_softplus=True, return_last_state=True)
    scale = ref_out.abs().max()
    torch.testing.assert_close(out / scale, ref_out / scale, atol=1e-5, rtol=0)
    torch.testing.assert_close(state / state.abs().max(), ref_state / state.abs().max(), atol=1e-5, rtol=0)


def test_torch_scan_gradients_match_the_reference_scan():
    inputs = {k: v.clone().requires_grad_() for k, v in scan_inputs(2, length=40).items()}
    ref = import_mamba_ssm().selective_scan_ref(**inputs, delta_softplus=True)
    ref_grads = torch.autograd.grad(ref.square().sum(), list(inputs.values()))
    out = scan_reference.selective_scan(**inputs, delta_softplus=True)
    grads = torch.autograd.grad(out.square().sum(), list(inputs.values()))
    for name, g, r in zip(inputs, grads, ref_grads):
        torch.testing.assert_close(g, r, atol=1e-4 * r.abs().max().item(), rtol=1e-4, msg=name)


def test_scan_from_a_saved_state_continues_the_sequence():
    inputs = scan_inputs(1)
    whole = scan_reference.selective_scan(**inputs, delta_softplus=True)
    first = {k: (v[..., :33] if v.dim() == 3 else v) for k, v in inputs.items()}
    rest = {k: (v[..., 33:] if v.dim() == 3 else v) for k, v in inputs.items()}
    a, state = scan_reference.selective_scan(**first, delta_softplus=True, return_last_state=True)
    b = scan_reference.selective_scan(**rest, delta_softplus=True, initial_state=state)
    torch.testing.assert_close(torch.cat([a, b], dim=-1), whole, atol=1e-5, rtol=1e-5)


def test_mamba_mixer_matches_mamba_ssm_module_with_the_same_weights():
    cfg = ModelConfig(vocab_size=10, d_model=32, n_layers=1, n_heads=4, mixer="mamba", causal=True)
    torch.manual_seed(0)
    ours = GenomicModel(cfg).blocks[0].mixer
    theirs = import_mamba_ssm().Mamba(d_model=32, d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand, use_fast_path=False)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 50, 32)
    with torch.no_grad():
        y, _, _ = ours(x, Context())
        torch.testing.assert_close(y, theirs(x), atol=1e-5, rtol=1e-5)


def test_bidirectional_mamba_adds_the_scan_of_the_flipped_rows():
    cfg = ModelConfig(vocab_size=10, d_model=32, n_layers=1, n_heads=4, mixer="mamba")
    torch.manual_seed(0)
    mixer = GenomicModel(cfg).blocks[0].mixer
    x = torch.randn(1, 20, 32)
    index = torch.arange(19, -1, -1)[None]
    with torch.no_grad():
        y, _, _ = mixer(x, Context(flip_index=index))
        expected = mixer.scan(x)[0] + mixer.scan(x.flip(1))[0].flip(1)
    torch.testing.assert_close(y, expected)


WINDOW_CASES = list(itertools.product([False, True], [False, True], [(3, 2), (4, 0), (7, 7)], [None, [37, 4]], [0, 2]))


@pytest.mark.parametrize("causal, alibi, window, seqlens, n_global", WINDOW_CASES)
def test_banded_window_attention_equals_the_reference_with_gradients(causal, alibi, window, seqlens, n_global):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 37, 8, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    options = dict(causal=causal, alibi_slopes=alibi_slopes(3).double() if alibi else None, window=window,
                   seqlens=None if seqlens is None else torch.tensor(seqlens), n_global=n_global)
    weights = torch.randn(2, 3, 37, 8, generator=g, dtype=torch.float64)
    expected = reference.attention(q, k, v, **options)
    got = banded.attention(q, k, v, block=4, **options)  # blocks of 4 rows: many block edges in 37
    # float64, the same sums in another order: 1e-10
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    for a, b in zip(torch.autograd.grad((expected * weights).sum(), (q, k, v)),
                    torch.autograd.grad((got * weights).sum(), (q, k, v))):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


def test_cpu_window_attention_of_a_long_input_runs_in_blocks_and_matches_the_reference():
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 600, 16, generator=g) for _ in range(3))
    options = dict(window=(40, 40), n_global=1, seqlens=torch.tensor([590]))
    assert banded.pays(600, 600, options["window"], options["n_global"])
    # float32 against the float64 reference: 1e-5
    expected = reference.attention(q.double(), k.double(), v.double(), **options).float()
    torch.testing.assert_close(attention(q, k, v, backend="sdpa", **options), expected, rtol=1e-5, atol=1e-5)


def test_attention_mixer_rotates_through_the_rope_dispatcher_in_full_and_selected_passes(monkeypatch):
    import genotx.models.mixers.attention as mixer_module

    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("q_positions") is not None)
        return rope(*args, **kwargs)

    monkeypatch.setattr(mixer_module, "rope", counted)
    torch.manual_seed(0)
    model = GenomicModel(ModelConfig(vocab_size=10, d_model=32, n_layers=1, n_heads=4, pe="rope"))
    ids = torch.randint(5, 9, (2, 12), generator=torch.Generator().manual_seed(0))
    chosen = torch.zeros(2, 12, dtype=torch.bool)
    chosen[:, 3] = True
    full = model(ids).logits
    selected = model(ids, logit_mask=chosen, masked_only=True).logits
    assert calls == [False, True]  # the full pass, then the selected queries at their positions
    torch.testing.assert_close(selected, full[chosen], atol=1e-5, rtol=1e-5)
