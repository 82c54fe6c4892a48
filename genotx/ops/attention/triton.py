"""Fused FlashAttention-2 in Triton: forward, and backward for dq, dk and dv.

Semantics are those of reference.py (positions, causal, ALiBi, window, padding,
global tokens). The algorithm is FlashAttention-2 (Dao, 2023): each program
owns a block of query rows, walks the key blocks that can matter to them with
an online softmax in float32, never holds an (Lq, Lk) matrix, and saves the
log-sum-exp of every row for the backward pass. Scores are kept in base-2
units (scaled by log2 e) so the exponentials are `exp2`.

`_attention_rows` walks the key blocks of BLOCK_M query rows: the forward pass,
or with BACKWARD=True dq, which needs the same tiles in the same order.
`_attention_dkdv` walks the query rows that see BLOCK_N keys. Variants are
`tl.constexpr` flags; tile loads, masked scores and the recomputed
probabilities are shared helpers. Key blocks no query of a block can see are
never visited, and the mask is only built on blocks that straddle a boundary.
Blocks and warps are autotuned per head dim and power-of-two length; the
interpreter (~1000x slower) gets one configuration.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..backends import interpreting, last_dim_contiguous, require_cuda
from . import TRITON_MAX_HEAD_DIM

LOG2E = tl.constexpr(1.4426950408889634)  # exp(x) = exp2(x * log2 e)
NEG_INF = tl.constexpr(float("-inf"))
POS_INF = tl.constexpr(float("inf"))

# (BLOCK_M, BLOCK_N, num_warps, num_stages), largest tiles first: starting points around
# FlashAttention-2's, not yet timed on a GPU. float32 tiles take twice the shared memory;
# `_fit` keeps BLOCK_N <= 32 for them (sm_90, head dim 128: dq 176 KiB of 227).
ROWS_CONFIGS = [(128, 64, 8, 3), (128, 64, 4, 3), (64, 64, 4, 3), (128, 32, 8, 2), (128, 32, 4, 2)]
DKDV_CONFIGS = [(64, 64, 8, 2), (64, 64, 4, 2), (32, 64, 4, 2), (64, 32, 8, 2), (64, 32, 4, 2)]
INTERPRETER_CONFIG = (16, 16, 1, 1)  # small blocks so tiny test shapes still span several blocks


def _configs(table):
    chosen = [INTERPRETER_CONFIG] if interpreting() else table
    return [triton.Config(dict(BLOCK_M=m, BLOCK_N=n), num_warps=w, num_stages=s) for m, n, w, s in chosen]


def _fit(configs, named_args, **kwargs):
    """The configurations whose tiles fit shared memory for these inputs' dtype."""
    if named_args["Q"].dtype != torch.float32:
        return configs
    return [c for c in configs if c.kwargs["BLOCK_N"] <= 32]


@triton.jit
def _tile(Base, index, n_rows, stride, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr):
    """Pointers to rows `index` of a (n_rows, HEAD_DIM) matrix and the mask of the real elements."""
    features = tl.arange(0, BLOCK_D)
    mask = (index[:, None] < n_rows) & (features[None, :] < HEAD_DIM)
    return Base + index[:, None] * stride + features[None, :], mask


@triton.jit
def _load(Base, index, n_rows, stride, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr):
    """(len(index), BLOCK_D) tile of rows `index`, zero outside the matrix."""
    pointers, mask = _tile(Base, index, n_rows, stride, HEAD_DIM, BLOCK_D)
    return tl.load(pointers, mask=mask, other=0.0)


@triton.jit
def _store(Base, index, n_rows, stride, tile, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr):
    pointers, mask = _tile(Base, index, n_rows, stride, HEAD_DIM, BLOCK_D)
    tl.store(pointers, tile.to(Base.dtype.element_ty), mask=mask)


@triton.jit
def _program_setup(Slopes, Seqlens, n_heads, lq, lk,
                   HAS_ALIBI: tl.constexpr, HAS_SEQLENS: tl.constexpr):
    """(batch, head, query offset Lk - Lq, valid keys of the row, ALiBi slope * log2 e)."""
    b = tl.program_id(1) // n_heads
    h = tl.program_id(1) % n_heads
    kv_len = lk
    if HAS_SEQLENS:
        kv_len = tl.load(Seqlens + b)
    slope = 0.0
    if HAS_ALIBI:
        slope = tl.load(Slopes + h) * LOG2E
    return b, h, lk - lq, kv_len, slope


@triton.jit
def _query_block(start_m, q_offset, lq, BLOCK_M: tl.constexpr):
    """Rows [start_m, start_m + BLOCK_M): indices, key positions, first and last real position."""
    rows = start_m + tl.arange(0, BLOCK_M)
    return rows, rows + q_offset, start_m + q_offset, tl.minimum(start_m + BLOCK_M, lq) - 1 + q_offset


@triton.jit
def _row_stats(LSE, Delta, rows, lq):
    """Saved base-2 log-sum-exp (+inf past the end: probabilities 0) and rowsum(dO * O)."""
    lse = tl.load(LSE + rows, mask=rows < lq, other=POS_INF)
    return lse, tl.load(Delta + rows, mask=rows < lq, other=0.0)


@triton.jit
def _allowed(q_pos, k_pos, kv_len, window_left, window_right, n_global,
             CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_GLOBAL: tl.constexpr):
    """(M, N) bool: may query position p see key position j (reference.allowed_keys)."""
    p = q_pos[:, None]
    j = k_pos[None, :]
    allowed = (j < kv_len) & (p >= 0)  # p >= 0 always; it only broadcasts to (M, N)
    if HAS_WINDOW:
        in_window = ((window_left < 0) | (j >= p - window_left)) & \
                    ((window_right < 0) | (j <= p + window_right))
        if HAS_GLOBAL:
            in_window = in_window | (p < n_global) | (j < n_global)
        allowed = allowed & in_window
    if CAUSAL:
        allowed = allowed & (j <= p)
    return allowed


@triton.jit
def _needs_mask(start_n, p_lo, p_hi, kv_len, window_left, window_right,
                BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr):
    """Whether some (query, key) pair of this tile may be masked out."""
    last_key = start_n + BLOCK_N - 1
    needs = last_key >= kv_len
    if CAUSAL:
        needs = needs | (last_key > p_lo)
    if HAS_WINDOW:
        needs = needs | ((window_left >= 0) & (start_n < p_hi - window_left))
        needs = needs | ((window_right >= 0) & (last_key > p_lo + window_right))
    return needs


@triton.jit
def _scores(q, k, q_pos, k_pos, start_n, p_lo, p_hi, kv_len, softmax_scale, slope,
            window_left, window_right, n_global,
            BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr,
            HAS_WINDOW: tl.constexpr, HAS_GLOBAL: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """(M, N) scores in base-2 units, (q.k * scale - slope * |p - j|) * log2 e; -inf on hidden keys."""
    s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * (softmax_scale * LOG2E)
    if HAS_ALIBI:
        s -= slope * tl.abs(q_pos[:, None] - k_pos[None, :]).to(tl.float32)
    if _needs_mask(start_n, p_lo, p_hi, kv_len, window_left, window_right, BLOCK_N, CAUSAL, HAS_WINDOW):
        allowed = _allowed(q_pos, k_pos, kv_len, window_left, window_right, n_global,
                           CAUSAL, HAS_WINDOW, HAS_GLOBAL)
        s = tl.where(allowed, s, NEG_INF)
    return s


@triton.jit
def _online_softmax(acc, m_i, l_i, s, v, DOT_PRECISION: tl.constexpr):
    """Fold one tile of scores s (M, N) and values v (N, D) into the running output, max and sum."""
    m_new = tl.maximum(m_i, tl.max(s, 1))
    # A row with no allowed key yet keeps m = -inf; subtract 0 there, not inf - inf.
    m_safe = tl.where(m_new == NEG_INF, 0.0, m_new)
    p = tl.math.exp2(s - m_safe[:, None])
    alpha = tl.math.exp2(m_i - m_safe)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
    return acc, m_new, l_i * alpha + tl.sum(p, 1)


@triton.jit
def _probs_and_ds(s, lse, delta, do, v, DOT_PRECISION: tl.constexpr):
    """Probabilities of a tile recomputed from the saved log-sum-exp, and dS = P * (dO V^T - delta)."""
    p = tl.math.exp2(s - lse[:, None])
    dp = tl.dot(do, tl.trans(v), input_precision=DOT_PRECISION)
    return p, p * (dp - delta[:, None])


@triton.jit
def _key_range(p_lo, p_hi, kv_len, window_left, window_right, n_global,
               BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr):
    """Key blocks for query positions [p_lo, p_hi]: main range [lo, hi), global keys [0, g_end).

    Written with `where` rather than `if` so every bound is a run-time scalar.
    """
    hi = tl.minimum(kv_len, p_hi + 1) if CAUSAL else kv_len + 0 * p_lo
    lo = 0 * p_lo
    if HAS_WINDOW:
        windowed = p_lo >= n_global  # a block holding global queries sees every key
        hi = tl.where(windowed & (window_right >= 0), tl.minimum(hi, p_hi + window_right + 1), hi)
        lo = tl.where(windowed & (window_left >= 0), tl.maximum(p_lo - window_left, 0), 0)
    lo = (lo // BLOCK_N) * BLOCK_N
    g_end = tl.minimum(tl.cdiv(n_global, BLOCK_N) * BLOCK_N, lo)
    padding = p_lo >= kv_len  # the whole block is padding: nothing to read
    return lo, tl.where(padding, 0, hi), tl.where(padding, 0, g_end)


@triton.jit
def _query_range(start_n, q_offset, lq, kv_len, window_left, window_right, n_global,
                 BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
                 HAS_WINDOW: tl.constexpr):
    """Query rows that can see keys [start_n, start_n + BLOCK_N): main [lo, hi), global rows [0, g_end)."""
    last_key = tl.minimum(start_n + BLOCK_N, kv_len) - 1
    hi = tl.minimum(lq, kv_len - q_offset)  # rows at positions >= kv_len are padding
    lo = tl.maximum(start_n - q_offset, 0) if CAUSAL else 0 * start_n
    if HAS_WINDOW:
        windowed = start_n >= n_global  # a block holding global keys is seen by every query
        hi = tl.where(windowed & (window_left >= 0),
                      tl.minimum(hi, last_key + window_left - q_offset + 1), hi)
        lo = tl.where(windowed & (window_right >= 0),
                      tl.maximum(lo, start_n - window_right - q_offset), lo)
    lo = (lo // BLOCK_M) * BLOCK_M
    g_end = tl.minimum(tl.cdiv(tl.maximum(n_global - q_offset, 0), BLOCK_M) * BLOCK_M, lo)
    padding = start_n >= kv_len  # padded keys receive no gradient
    return lo, tl.where(padding, 0, hi), tl.where(padding, 0, g_end)


@triton.autotune(configs=_configs(ROWS_CONFIGS), key=["HEAD_DIM", "lq_bucket", "lk_bucket", "BACKWARD"],
                 prune_configs_by=dict(early_config_prune=_fit))
@triton.jit
def _attention_rows(
    Q, K, V, Out, LSE, DO, Delta, Slopes, Seqlens,
    stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn, stride_vb, stride_vh, stride_vn,
    stride_ob, stride_oh, stride_om, stride_dob, stride_doh, stride_dom,
    n_heads, lq, lk, softmax_scale, window_left, window_right, n_global, lq_bucket, lk_bucket,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_GLOBAL: tl.constexpr,
    HAS_SEQLENS: tl.constexpr, DOT_PRECISION: tl.constexpr, BACKWARD: tl.constexpr,
):
    """One program: BLOCK_M query rows of one (batch, head) against the key blocks they see.

    Forward: writes the output to Out and the base-2 log-sum-exp to LSE. BACKWARD:
    reads DO, LSE and Delta = rowsum(dO * O) and writes dq to Out.
    """
    b, h, q_offset, kv_len, slope = _program_setup(Slopes, Seqlens, n_heads, lq, lk, HAS_ALIBI, HAS_SEQLENS)
    rows, q_pos, p_lo, p_hi = _query_block(tl.program_id(0) * BLOCK_M, q_offset, lq, BLOCK_M)
    q = _load(Q + b * stride_qb + h * stride_qh, rows, lq, stride_qm, HEAD_DIM, BLOCK_D)
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh
    LSE += (b * n_heads + h) * lq
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], NEG_INF, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    if BACKWARD:
        do = _load(DO + b * stride_dob + h * stride_doh, rows, lq, stride_dom, HEAD_DIM, BLOCK_D)
        lse, delta = _row_stats(LSE, Delta + (b * n_heads + h) * lq, rows, lq)
    lo, hi, g_end = _key_range(p_lo, p_hi, kv_len, window_left, window_right, n_global,
                               BLOCK_N, CAUSAL, HAS_WINDOW)
    # Global keys left of the window first, then the keys the window and causal mask allow.
    for phase in tl.static_range(2):
        for start_n in range(0 if phase == 0 else lo, g_end if phase == 0 else hi, BLOCK_N):
            k_pos = start_n + tl.arange(0, BLOCK_N)
            k = _load(K, k_pos, lk, stride_kn, HEAD_DIM, BLOCK_D)
            v = _load(V, k_pos, lk, stride_vn, HEAD_DIM, BLOCK_D)
            s = _scores(q, k, q_pos, k_pos, start_n, p_lo, p_hi, kv_len, softmax_scale, slope,
                        window_left, window_right, n_global, BLOCK_N, CAUSAL, HAS_ALIBI,
                        HAS_WINDOW, HAS_GLOBAL, DOT_PRECISION)
            if BACKWARD:
                _, ds = _probs_and_ds(s, lse, delta, do, v, DOT_PRECISION)
                acc += tl.dot(ds.to(k.dtype), k, input_precision=DOT_PRECISION)
            else:
                acc, m_i, l_i = _online_softmax(acc, m_i, l_i, s, v, DOT_PRECISION)

    Out += b * stride_ob + h * stride_oh
    if BACKWARD:
        _store(Out, rows, lq, stride_om, acc * softmax_scale, HEAD_DIM, BLOCK_D)
    else:
        valid = (q_pos < kv_len) & (l_i > 0)  # padded rows come out zero
        l_safe = tl.where(valid, l_i, 1.0)
        _store(Out, rows, lq, stride_om, tl.where(valid[:, None], acc / l_safe[:, None], 0.0), HEAD_DIM, BLOCK_D)
        # +inf makes every probability exp2(s - lse) of a padded row zero in the backward pass.
        tl.store(LSE + rows, tl.where(valid, m_i + tl.math.log2(l_safe), POS_INF), mask=rows < lq)


@triton.autotune(configs=_configs(DKDV_CONFIGS), key=["HEAD_DIM", "lq_bucket", "lk_bucket"],
                 prune_configs_by=dict(early_config_prune=_fit))
@triton.jit
def _attention_dkdv(
    Q, K, V, DO, LSE, Delta, DK, DV, Slopes, Seqlens,
    stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn, stride_vb, stride_vh, stride_vn,
    stride_dob, stride_doh, stride_dom, stride_dkb, stride_dkh, stride_dkn, stride_dvb, stride_dvh, stride_dvn,
    n_heads, lq, lk, softmax_scale, window_left, window_right, n_global, lq_bucket, lk_bucket,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_GLOBAL: tl.constexpr,
    HAS_SEQLENS: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """One program: dk and dv of BLOCK_N keys, summed over the query blocks that see them."""
    b, h, q_offset, kv_len, slope = _program_setup(Slopes, Seqlens, n_heads, lq, lk, HAS_ALIBI, HAS_SEQLENS)
    start_n = tl.program_id(0) * BLOCK_N
    k_pos = start_n + tl.arange(0, BLOCK_N)
    k = _load(K + b * stride_kb + h * stride_kh, k_pos, lk, stride_kn, HEAD_DIM, BLOCK_D)
    v = _load(V + b * stride_vb + h * stride_vh, k_pos, lk, stride_vn, HEAD_DIM, BLOCK_D)
    Q += b * stride_qb + h * stride_qh
    DO += b * stride_dob + h * stride_doh
    LSE += (b * n_heads + h) * lq
    Delta += (b * n_heads + h) * lq
    dk = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    lo, hi, g_end = _query_range(start_n, q_offset, lq, kv_len, window_left, window_right,
                                 n_global, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW)
    # Global query rows above the window first, then the rows the window and causal mask allow.
    for phase in tl.static_range(2):
        for start_m in range(0 if phase == 0 else lo, g_end if phase == 0 else hi, BLOCK_M):
            rows, q_pos, p_lo, p_hi = _query_block(start_m, q_offset, lq, BLOCK_M)
            q = _load(Q, rows, lq, stride_qm, HEAD_DIM, BLOCK_D)
            do = _load(DO, rows, lq, stride_dom, HEAD_DIM, BLOCK_D)
            lse, delta = _row_stats(LSE, Delta, rows, lq)
            s = _scores(q, k, q_pos, k_pos, start_n, p_lo, p_hi, kv_len, softmax_scale, slope,
                        window_left, window_right, n_global, BLOCK_N, CAUSAL, HAS_ALIBI,
                        HAS_WINDOW, HAS_GLOBAL, DOT_PRECISION)
            p, ds = _probs_and_ds(s, lse, delta, do, v, DOT_PRECISION)
            dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=DOT_PRECISION)
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PRECISION)

    _store(DK + b * stride_dkb + h * stride_dkh, k_pos, lk, stride_dkn, dk * softmax_scale, HEAD_DIM, BLOCK_D)
    _store(DV + b * stride_dvb + h * stride_dvh, k_pos, lk, stride_dvn, dv, HEAD_DIM, BLOCK_D)


def _strides(*tensors):
    return [s for x in tensors for s in x.stride()[:3]]


def _launch(q, k, causal, scale, slopes, window, seqlens, n_global, placeholder):
    """(slopes and lengths, or `placeholder` that is never read; run-time scalars; constexpr flags)."""
    head_dim, lq, lk = q.shape[-1], q.shape[-2], k.shape[-2]
    has_window = window != (-1, -1)
    pointers = (slopes if slopes is not None else placeholder, seqlens if seqlens is not None else placeholder)
    # The buckets are the autotuning key only: one tuning per power-of-two length, not per length.
    scalars = (q.shape[1], lq, lk, scale, window[0], window[1], n_global,
               triton.next_power_of_2(lq), triton.next_power_of_2(lk))
    flags = dict(
        HEAD_DIM=head_dim, BLOCK_D=max(16, triton.next_power_of_2(head_dim)), CAUSAL=bool(causal),
        HAS_ALIBI=slopes is not None, HAS_WINDOW=has_window, HAS_GLOBAL=has_window and n_global > 0,
        HAS_SEQLENS=seqlens is not None,
        # float32 inputs keep full precision instead of TF32 tensor-core products
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
    )
    return pointers, scalars, flags


def _grid(n_rows, rows_per_program, batch_heads):
    return lambda meta: (triton.cdiv(n_rows, meta[rows_per_program]), batch_heads)


class FlashAttention(torch.autograd.Function):
    """Autograd wrapper: the forward saves the log-sum-exp, the backward recomputes tiles."""

    @staticmethod
    def forward(ctx, q, k, v, causal, scale, slopes, window, seqlens, n_global):
        batch, heads, lq, _ = q.shape
        out = torch.empty_like(q)
        lse = torch.empty((batch, heads, lq), device=q.device, dtype=torch.float32)
        pointers, scalars, flags = _launch(q, k, causal, scale, slopes, window, seqlens, n_global, lse)
        # DO and Delta are not read in the forward pass: q and lse stand in for them.
        _attention_rows[_grid(lq, "BLOCK_M", batch * heads)](
            q, k, v, out, lse, q, lse, *pointers, *_strides(q, k, v, out, q), *scalars, BACKWARD=False, **flags)
        ctx.save_for_backward(q, k, v, out, lse, slopes, seqlens)
        ctx.options = (causal, scale, window, n_global)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse, slopes, seqlens = ctx.saved_tensors
        causal, scale, window, n_global = ctx.options
        do = last_dim_contiguous(dout)
        batch, heads, lq, _ = q.shape
        delta = (do.float() * out.float()).sum(-1).contiguous()  # rowsum(dO * O), (B, H, Lq)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        pointers, scalars, flags = _launch(q, k, causal, scale, slopes, window, seqlens, n_global, lse)
        _attention_dkdv[_grid(k.shape[-2], "BLOCK_N", batch * heads)](
            q, k, v, do, lse, delta, dk, dv, *pointers, *_strides(q, k, v, do, dk, dv), *scalars, **flags)
        _attention_rows[_grid(lq, "BLOCK_M", batch * heads)](
            q, k, v, dq, lse, do, delta, *pointers, *_strides(q, k, v, dq, do), *scalars, BACKWARD=True, **flags)
        return dq, dk, dv, None, None, None, None, None, None


def attention(q, k, v, *, causal=False, softmax_scale=None, alibi_slopes=None,
              window=(-1, -1), seqlens=None, n_global=0):
    """The fused kernel behind `genotx.ops.attention.attention(..., backend="triton")`.

    q: (B, H, Lq, D), k and v: (B, H, Lk, D), CUDA, float16/bfloat16/float32,
    D <= 128 (any stride, last dim contiguous preferred); alibi_slopes (H,)
    float32 (constants: no gradient); seqlens (B,) int. Returns (B, H, Lq, D).
    Inputs are assumed checked by the dispatcher.
    """
    require_cuda(q)
    if q.shape[-1] > TRITON_MAX_HEAD_DIM:
        raise ValueError(f"the triton backend supports head dims up to {TRITON_MAX_HEAD_DIM}, got {q.shape[-1]}")
    q, k, v = (last_dim_contiguous(x) for x in (q, k, v))
    scale = float(softmax_scale) if softmax_scale is not None else q.shape[-1] ** -0.5
    if alibi_slopes is not None:
        alibi_slopes = alibi_slopes.detach().to(device=q.device, dtype=torch.float32).contiguous()
    if seqlens is not None:
        seqlens = torch.as_tensor(seqlens, device=q.device).to(torch.int32).contiguous()
    window = tuple(int(w) for w in window)
    n_global = int(n_global) if window != (-1, -1) else 0
    return FlashAttention.apply(q, k, v, bool(causal), scale, alibi_slopes, window, seqlens, n_global)
