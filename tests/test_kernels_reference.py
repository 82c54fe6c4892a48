"""The attention and RoPE references, the SDPA backend and the dispatcher, on the CPU.

The references are checked against definitions written out element by element;
the SDPA backend against the float64 reference (tolerance 1e-10: the same
float64 arithmetic in a different order).
"""

import itertools
import logging
import math
import sys
import types

import pytest
import torch

import genotx.ops.attention as attention_pkg
import genotx.ops.rope as rope_pkg
from genotx.ops.attention import alibi_slopes, attention, attention_probs, reference
from genotx.ops.rope import reference as rope_reference
from genotx.ops.rope import rope

F64 = torch.float64
OPTION_GRID = {
    "causal": [False, True],
    "alibi": [False, True],
    "window": [(-1, -1), (3, 2), (4, 0), (-1, 1)],
    "seqlens": [None, [9, 4]],
    "n_global": [0, 2],
}


def option_combinations():
    keys = list(OPTION_GRID)
    for values in itertools.product(*OPTION_GRID.values()):
        yield dict(zip(keys, values))


def randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def options_for(raw, heads):
    options = dict(raw)
    options["alibi_slopes"] = alibi_slopes(heads).double() if options.pop("alibi") else None
    if options["seqlens"] is not None:
        options["seqlens"] = torch.tensor(options["seqlens"])
    return options


def attention_by_loops(q, k, v, *, causal, alibi_slopes, window, seqlens, n_global):
    """Attention written one query at a time, straight from the rules in reference.py."""
    batch, heads, lq, dim = q.shape
    lk = k.shape[2]
    out = torch.zeros_like(q)
    left, right = window
    for b, h, i in itertools.product(range(batch), range(heads), range(lq)):
        p = lk - lq + i
        length = lk if seqlens is None else int(seqlens[b])
        if p >= length:
            continue  # padded query row stays zero
        keys = []
        for j in range(length):
            in_window = (left < 0 or j >= p - left) and (right < 0 or j <= p + right)
            if (in_window or p < n_global or j < n_global) and (not causal or j <= p):
                keys.append(j)
        scores = torch.stack([q[b, h, i] @ k[b, h, j] / math.sqrt(dim) for j in keys])
        if alibi_slopes is not None:
            scores = scores - alibi_slopes[h] * torch.tensor([abs(p - j) for j in keys], dtype=F64)
        weights = torch.softmax(scores, 0)
        out[b, h, i] = sum(w * v[b, h, j] for w, j in zip(weights, keys))
    return out


@pytest.mark.parametrize("lq", [9, 4], ids=["full", "decode"])
def test_reference_attention_matches_a_query_by_query_definition(lq):
    q, k, v = randn(2, 2, lq, 8, seed=1), randn(2, 2, 9, 8, seed=2), randn(2, 2, 9, 8, seed=3)
    for raw in option_combinations():
        options = options_for(raw, heads=2)
        expected = attention_by_loops(q, k, v, **options)
        got = reference.attention(q, k, v, **options)
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12, msg=str(raw))


@pytest.mark.parametrize("lq", [9, 4, 1], ids=["full", "decode", "one_token"])
def test_sdpa_backend_matches_reference_with_gradients(lq):
    for raw in option_combinations():
        options = options_for(raw, heads=2)
        inputs = [randn(2, 2, n, 8, seed=s).requires_grad_() for s, n in ((1, lq), (2, 9), (3, 9))]
        results = []
        for backend in ("sdpa", "reference"):
            out = attention(*inputs, backend=backend, **options)
            results.append([out, *torch.autograd.grad(out, inputs, randn(*out.shape, seed=4))])
        for a, b in zip(*results):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=str(raw))


def test_decoding_rows_equal_the_last_rows_of_full_attention():
    q, k, v = randn(1, 2, 12, 8, seed=1), randn(1, 2, 12, 8, seed=2), randn(1, 2, 12, 8, seed=3)
    options = dict(causal=True, alibi_slopes=alibi_slopes(2).double(), window=(5, 0))
    full = attention(q, k, v, backend="reference", **options)
    for backend in ("reference", "sdpa"):
        last = attention(q[:, :, -3:], k, v, backend=backend, **options)
        torch.testing.assert_close(last, full[:, :, -3:], atol=1e-12, rtol=0)


def test_padded_keys_do_not_change_outputs_and_padded_queries_are_zero():
    q, k, v = randn(2, 2, 10, 8, seed=1), randn(2, 2, 10, 8, seed=2), randn(2, 2, 10, 8, seed=3)
    seqlens = torch.tensor([10, 6])
    k2, v2 = k.clone(), v.clone()
    k2[1, :, 6:] = 1e3
    v2[1, :, 6:] = -1e3
    for backend in ("reference", "sdpa"):
        a = attention(q, k, v, seqlens=seqlens, backend=backend)
        b = attention(q, k2, v2, seqlens=seqlens, backend=backend)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
        assert a[1, :, 6:].abs().sum() == 0


def test_global_tokens_see_and_are_seen_by_every_position():
    allowed = reference.allowed_keys(8, 8, window=(1, 1), n_global=2)[0, 0]
    assert allowed[:2].all() and allowed[:, :2].all()
    assert not allowed[7, 3] and allowed[7, 6]


def test_alibi_slopes_follow_the_geometric_sequence_and_interleave_for_other_head_counts():
    assert alibi_slopes(8).tolist() == [2.0 ** -(i + 1) for i in range(8)]
    assert alibi_slopes(6).tolist() == [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_auto_dispatch_never_sends_cpu_tensors_to_triton(monkeypatch, caplog, dtype):
    def refuse(*args, **kwargs):
        raise AssertionError("CPU tensors reached the Triton backend")

    fake = types.SimpleNamespace(attention=refuse, rope=refuse)
    for package in (attention_pkg, rope_pkg):
        monkeypatch.setattr(package, "triton", fake, raising=False)
        monkeypatch.setitem(sys.modules, f"{package.__name__}.triton", fake)
    q = randn(1, 2, 6, 8, dtype=dtype)
    with caplog.at_level(logging.DEBUG, logger="genotx.ops"):
        out = attention(q, q, q, causal=True, alibi_slopes=alibi_slopes(2), window=(2, 0))
        rq, rk = rope(q, q)
    assert out.shape == q.shape and rq.shape == rk.shape == q.shape
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("attention: sdpa instead of triton: tensors are on cpu" in m for m in messages)
    assert any("rope: reference instead of triton: tensors are on cpu" in m for m in messages)


def test_triton_backend_refuses_cpu_tensors_outside_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    q = randn(1, 1, 4, 16, dtype=torch.float32)
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        attention(q, q, q, backend="triton")
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        rope(q, q, backend="triton")


@pytest.mark.parametrize("call,message", [
    (lambda q: attention(q, q[..., :4], q[..., :4]), "same head dim, got 8 and 4"),
    (lambda q: attention(q, q[:, :, :3], q[:, :, :3]), "more rows than k"),
    (lambda q: attention(q, q, q, window=(-2, 0)), "window sides"),
    (lambda q: attention(q, q, q, seqlens=[7, 1]), r"seqlens must lie in \[0, Lk=6\]"),
    (lambda q: attention(q, q, q, alibi_slopes=torch.ones(3)), r"alibi_slopes must be \(H,\)"),
    (lambda q: attention(q, q, q, backend="flash"), "backend must be one of"),
    (lambda q: rope(q, q[..., :7]), "same head dim"),
    (lambda q: rope(q[..., :7], q[..., :7]), "must be even"),
    (lambda q: rope(q, q, offset=-1), "offset must be an int >= 0"),
])
def test_bad_arguments_raise_errors_that_name_the_contract(call, message):
    with pytest.raises(ValueError, match=message):
        call(randn(2, 2, 6, 8))


def test_rope_preserves_norms_and_makes_scores_depend_only_on_distance():
    q, k = randn(1, 2, 10, 16, seed=1), randn(1, 2, 10, 16, seed=2)
    rq, rk = rope(q, k)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-12, rtol=0)
    shifted_q, shifted_k = rope(q, k, offset=37)
    torch.testing.assert_close(rq @ rk.transpose(-1, -2), shifted_q @ shifted_k.transpose(-1, -2),
                               atol=1e-10, rtol=0)


def test_rope_interleaved_layout_is_rotate_half_on_permuted_features():
    q, k = randn(1, 2, 7, 8, seed=1), randn(1, 2, 7, 8, seed=2)
    to_halves = torch.tensor([0, 2, 4, 6, 1, 3, 5, 7])  # (x0, x1, x2, ...) pairs -> halves
    iq, ik = rope(q, k, offset=3, interleaved=True)
    hq, hk = rope(q[..., to_halves], k[..., to_halves], offset=3)
    torch.testing.assert_close(iq[..., to_halves], hq, atol=1e-12, rtol=0)
    torch.testing.assert_close(ik[..., to_halves], hk, atol=1e-12, rtol=0)


def test_rope_scale_interpolates_positions():
    q = randn(1, 1, 8, 8, seed=1)
    every_other, _ = rope(q, q, scale=2.0)
    plain, _ = rope(q[:, :, ::2], q[:, :, ::2])
    torch.testing.assert_close(every_other[:, :, ::2], plain, atol=1e-12, rtol=0)


def test_rope_rotation_by_minus_angle_is_the_inverse():
    x = randn(1, 2, 9, 8, seed=3)
    angle = rope_reference.angles(9, 8, offset=4, dtype=F64)
    back = rope_reference.rotate(rope_reference.rotate(x, angle), -angle)
    torch.testing.assert_close(back, x, atol=1e-12, rtol=0)


def test_rope_in_place_writes_into_q_and_k():
    q, k = randn(1, 2, 5, 8, seed=1), randn(1, 2, 5, 8, seed=2)
    expected = rope(q, k, offset=2)
    got = rope(q, k, offset=2, inplace=True)
    assert got[0] is q and got[1] is k
    torch.testing.assert_close(q, expected[0], atol=0, rtol=0)


def test_rope_of_queries_at_given_positions_is_those_rows_of_the_full_rotation():
    q, k = randn(2, 2, 12, 8, seed=1), randn(2, 2, 12, 8, seed=2)
    full_q, full_k = rope(q, k, offset=5, scale=2.0)
    picked = torch.tensor([[0, 3, 4, 11], [2, 5, 6, 7]])
    gathered = q.gather(2, picked[:, None, :, None].expand(-1, 2, -1, 8))
    got_q, got_k = rope(gathered, k, offset=5, scale=2.0, q_positions=picked)
    expected_q = full_q.gather(2, picked[:, None, :, None].expand(-1, 2, -1, 8))
    torch.testing.assert_close(got_q, expected_q, atol=0, rtol=0)
    torch.testing.assert_close(got_k, full_k, atol=0, rtol=0)


def test_rope_q_positions_need_one_integer_per_query_row_and_not_the_kernel():
    q = randn(2, 2, 6, 8)
    with pytest.raises(ValueError, match=r"q_positions must be \(B, Lq\) = \(2, 6\) integers"):
        rope(q, q, q_positions=torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="consecutive rows only"):
        rope(q, q, q_positions=torch.zeros(2, 6, dtype=torch.long), backend="triton")


@pytest.mark.parametrize("options", [dict(causal=True, window=(2, 1), n_global=1), dict(seqlens=[8, 5], alibi=True)],
                         ids=["causal_window_global", "padded_alibi"])
def test_attention_probs_are_the_weights_of_the_attention_output(options):
    q, k, v = randn(2, 2, 8, 4, seed=1), randn(2, 2, 8, 4, seed=2), randn(2, 2, 8, 4, seed=3)
    options = dict(options)
    options["alibi_slopes"] = alibi_slopes(2).double() if options.pop("alibi", False) else None
    options["seqlens"] = torch.tensor(options["seqlens"]) if "seqlens" in options else None
    probs = attention_probs(q, k, **options)
    valid = reference.valid_queries(8, 8, options["seqlens"])
    rows = probs.sum(-1, keepdim=True)
    expected_rows = torch.ones_like(rows) if valid is None else valid.to(F64).expand_as(rows)
    torch.testing.assert_close(rows, expected_rows, atol=1e-12, rtol=0)
    torch.testing.assert_close(probs @ v, attention(q, k, v, **options), atol=1e-12, rtol=0)
