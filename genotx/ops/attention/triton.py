"""Fused FlashAttention-2 in Triton: forward, and backward for dq, dk and dv.

Semantics are those of reference.py (positions, causal, ALiBi, window, padding,
global tokens). The algorithm is FlashAttention-2 (Dao, 2023): each program
owns a block of query rows, walks the key blocks that can matter to them with
an online softmax in float32, never holds an (Lq, Lk) matrix, and saves the
log-sum-exp of every row for the backward pass. Scores are kept in base-2
units (scaled by log2 e) so the exponentials are `exp2`.

Variants are `tl.constexpr` flags of one kernel per pass, not copies. Key blocks
that no query of a block can see are never visited (causal, window, padded
rows), and the mask is only built on blocks that straddle a boundary.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..backends import interpreting, last_dim_contiguous, require_cuda

LOG2E = 1.4426950408889634

# Untuned starting points (no GPU was at hand to tune them): (BLOCK_M, BLOCK_N, num_warps, num_stages)
# by pass and head-dim bucket for 2-byte dtypes; float32 halves the key block to fit shared memory.
BLOCKS = {
    ("forward", 64): (128, 64, 4, 3),
    ("forward", 128): (128, 64, 8, 3),
    ("backward", 64): (64, 64, 4, 2),
    ("backward", 128): (64, 64, 8, 2),
}
INTERPRETER_BLOCK = 16  # small blocks so tiny test shapes still span several blocks


@triton.jit
def _scores(q, k, q_pos, k_pos, qk_scale, slope,
            HAS_ALIBI: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """(M, N) scores in base-2 units: (q.k * scale - slope * |p - j|) * log2 e."""
    s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * qk_scale
    if HAS_ALIBI:
        s -= slope * tl.abs(q_pos[:, None] - k_pos[None, :]).to(tl.float32)
    return s


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
        slope = tl.load(Slopes + h) * 1.4426950408889634
    return b, h, lk - lq, kv_len, slope


@triton.jit
def _attention_forward(
    Q, K, V, Out, LSE, Slopes, Seqlens,
    stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
    stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_om,
    n_heads, lq, lk, qk_scale, window_left, window_right, n_global,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr, HAS_WINDOW: tl.constexpr,
    HAS_GLOBAL: tl.constexpr, HAS_SEQLENS: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """One program: BLOCK_M query rows of one (batch, head). Writes Out and LSE (base 2)."""
    start_m = tl.program_id(0) * BLOCK_M
    b, h, q_offset, kv_len, slope = _program_setup(Slopes, Seqlens, n_heads, lq, lk, HAS_ALIBI, HAS_SEQLENS)
    rows = start_m + tl.arange(0, BLOCK_M)
    q_pos = rows + q_offset
    p_lo = start_m + q_offset
    p_hi = tl.minimum(start_m + BLOCK_M, lq) - 1 + q_offset
    offs_d = tl.arange(0, BLOCK_D)
    tile = (rows[:, None] < lq) & (offs_d[None, :] < HEAD_DIM)
    q = tl.load(Q + b * stride_qb + h * stride_qh + rows[:, None] * stride_qm + offs_d[None, :],
                mask=tile, other=0.0)
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh

    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    lo, hi, g_end = _key_range(p_lo, p_hi, kv_len, window_left, window_right, n_global,
                               BLOCK_N, CAUSAL, HAS_WINDOW)
    # Global keys left of the window first, then the keys the window and causal mask allow.
    for phase in tl.static_range(2):
        first = 0 if phase == 0 else lo
        last = g_end if phase == 0 else hi
        for start_n in range(first, last, BLOCK_N):
            k_pos = start_n + tl.arange(0, BLOCK_N)
            key_tile = (k_pos[:, None] < lk) & (offs_d[None, :] < HEAD_DIM)
            k = tl.load(K + k_pos[:, None] * stride_kn + offs_d[None, :], mask=key_tile, other=0.0)
            v = tl.load(V + k_pos[:, None] * stride_vn + offs_d[None, :], mask=key_tile, other=0.0)
            s = _scores(q, k, q_pos, k_pos, qk_scale, slope, HAS_ALIBI, DOT_PRECISION)
            if _needs_mask(start_n, p_lo, p_hi, kv_len, window_left, window_right, BLOCK_N,
                           CAUSAL, HAS_WINDOW):
                allowed = _allowed(q_pos, k_pos, kv_len, window_left, window_right, n_global,
                                   CAUSAL, HAS_WINDOW, HAS_GLOBAL)
                s = tl.where(allowed, s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            # A row with no allowed key yet keeps m = -inf; subtract 0 there, not inf - inf.
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
            p = tl.math.exp2(s - m_safe[:, None])
            alpha = tl.math.exp2(m_i - m_safe)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
            m_i = m_new

    valid = (q_pos < kv_len) & (l_i > 0)  # padded rows come out zero
    l_safe = tl.where(valid, l_i, 1.0)
    out = tl.where(valid[:, None], acc / l_safe[:, None], 0.0)
    # +inf makes every probability exp2(s - lse) of a padded row zero in the backward pass.
    lse = tl.where(valid, m_i + tl.math.log2(l_safe), float("inf"))
    tl.store(Out + b * stride_ob + h * stride_oh + rows[:, None] * stride_om + offs_d[None, :],
             out.to(Out.dtype.element_ty), mask=tile)
    tl.store(LSE + (b * n_heads + h) * lq + rows, lse, mask=rows < lq)


@triton.jit
def _probabilities(q, k, lse, q_pos, k_pos, p_lo, p_hi, kv_len, qk_scale, slope,
                   window_left, window_right, n_global, start_n,
                   BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr,
                   HAS_WINDOW: tl.constexpr, HAS_GLOBAL: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """Recompute the (M, N) attention probabilities of a tile from the saved log-sum-exp."""
    s = _scores(q, k, q_pos, k_pos, qk_scale, slope, HAS_ALIBI, DOT_PRECISION)
    p = tl.math.exp2(s - lse[:, None])
    if _needs_mask(start_n, p_lo, p_hi, kv_len, window_left, window_right, BLOCK_N, CAUSAL, HAS_WINDOW):
        allowed = _allowed(q_pos, k_pos, kv_len, window_left, window_right, n_global,
                           CAUSAL, HAS_WINDOW, HAS_GLOBAL)
        p = tl.where(allowed, p, 0.0)
    return p


@triton.jit
def _attention_backward_dkdv(
    Q, K, V, DO, LSE, Delta, DK, DV, Slopes, Seqlens,
    stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
    stride_vb, stride_vh, stride_vn, stride_dob, stride_doh, stride_dom,
    stride_dkb, stride_dkh, stride_dkn, stride_dvb, stride_dvh, stride_dvn,
    n_heads, lq, lk, qk_scale, softmax_scale, window_left, window_right, n_global,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr, HAS_WINDOW: tl.constexpr,
    HAS_GLOBAL: tl.constexpr, HAS_SEQLENS: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """One program: dk and dv of BLOCK_N keys, summed over the query blocks that see them."""
    start_n = tl.program_id(0) * BLOCK_N
    b, h, q_offset, kv_len, slope = _program_setup(Slopes, Seqlens, n_heads, lq, lk, HAS_ALIBI, HAS_SEQLENS)
    k_pos = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    key_tile = (k_pos[:, None] < lk) & (offs_d[None, :] < HEAD_DIM)
    k = tl.load(K + b * stride_kb + h * stride_kh + k_pos[:, None] * stride_kn + offs_d[None, :],
                mask=key_tile, other=0.0)
    v = tl.load(V + b * stride_vb + h * stride_vh + k_pos[:, None] * stride_vn + offs_d[None, :],
                mask=key_tile, other=0.0)
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
        first = 0 if phase == 0 else lo
        last = g_end if phase == 0 else hi
        for start_m in range(first, last, BLOCK_M):
            rows = start_m + tl.arange(0, BLOCK_M)
            q_pos = rows + q_offset
            p_lo = start_m + q_offset
            p_hi = tl.minimum(start_m + BLOCK_M, lq) - 1 + q_offset
            row_tile = (rows[:, None] < lq) & (offs_d[None, :] < HEAD_DIM)
            q = tl.load(Q + rows[:, None] * stride_qm + offs_d[None, :], mask=row_tile, other=0.0)
            do = tl.load(DO + rows[:, None] * stride_dom + offs_d[None, :], mask=row_tile, other=0.0)
            lse = tl.load(LSE + rows, mask=rows < lq, other=float("inf"))
            delta = tl.load(Delta + rows, mask=rows < lq, other=0.0)
            p = _probabilities(q, k, lse, q_pos, k_pos, p_lo, p_hi, kv_len, qk_scale, slope,
                               window_left, window_right, n_global, start_n, BLOCK_N, CAUSAL,
                               HAS_ALIBI, HAS_WINDOW, HAS_GLOBAL, DOT_PRECISION)
            dv += tl.dot(tl.trans(p.to(do.dtype)), do, input_precision=DOT_PRECISION)
            dp = tl.dot(do, tl.trans(v), input_precision=DOT_PRECISION)
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds.to(q.dtype)), q, input_precision=DOT_PRECISION)

    dk *= softmax_scale
    tl.store(DK + b * stride_dkb + h * stride_dkh + k_pos[:, None] * stride_dkn + offs_d[None, :],
             dk.to(DK.dtype.element_ty), mask=key_tile)
    tl.store(DV + b * stride_dvb + h * stride_dvh + k_pos[:, None] * stride_dvn + offs_d[None, :],
             dv.to(DV.dtype.element_ty), mask=key_tile)


@triton.jit
def _attention_backward_dq(
    Q, K, V, DO, LSE, Delta, DQ, Slopes, Seqlens,
    stride_qb, stride_qh, stride_qm, stride_kb, stride_kh, stride_kn,
    stride_vb, stride_vh, stride_vn, stride_dob, stride_doh, stride_dom,
    stride_dqb, stride_dqh, stride_dqm,
    n_heads, lq, lk, qk_scale, softmax_scale, window_left, window_right, n_global,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_ALIBI: tl.constexpr, HAS_WINDOW: tl.constexpr,
    HAS_GLOBAL: tl.constexpr, HAS_SEQLENS: tl.constexpr, DOT_PRECISION: tl.constexpr,
):
    """One program: dq of BLOCK_M query rows, over the same key blocks as the forward pass."""
    start_m = tl.program_id(0) * BLOCK_M
    b, h, q_offset, kv_len, slope = _program_setup(Slopes, Seqlens, n_heads, lq, lk, HAS_ALIBI, HAS_SEQLENS)
    rows = start_m + tl.arange(0, BLOCK_M)
    q_pos = rows + q_offset
    p_lo = start_m + q_offset
    p_hi = tl.minimum(start_m + BLOCK_M, lq) - 1 + q_offset
    offs_d = tl.arange(0, BLOCK_D)
    row_tile = (rows[:, None] < lq) & (offs_d[None, :] < HEAD_DIM)
    q = tl.load(Q + b * stride_qb + h * stride_qh + rows[:, None] * stride_qm + offs_d[None, :],
                mask=row_tile, other=0.0)
    do = tl.load(DO + b * stride_dob + h * stride_doh + rows[:, None] * stride_dom + offs_d[None, :],
                 mask=row_tile, other=0.0)
    lse = tl.load(LSE + (b * n_heads + h) * lq + rows, mask=rows < lq, other=float("inf"))
    delta = tl.load(Delta + (b * n_heads + h) * lq + rows, mask=rows < lq, other=0.0)
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh

    dq = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    lo, hi, g_end = _key_range(p_lo, p_hi, kv_len, window_left, window_right, n_global,
                               BLOCK_N, CAUSAL, HAS_WINDOW)
    for phase in tl.static_range(2):
        first = 0 if phase == 0 else lo
        last = g_end if phase == 0 else hi
        for start_n in range(first, last, BLOCK_N):
            k_pos = start_n + tl.arange(0, BLOCK_N)
            key_tile = (k_pos[:, None] < lk) & (offs_d[None, :] < HEAD_DIM)
            k = tl.load(K + k_pos[:, None] * stride_kn + offs_d[None, :], mask=key_tile, other=0.0)
            v = tl.load(V + k_pos[:, None] * stride_vn + offs_d[None, :], mask=key_tile, other=0.0)
            p = _probabilities(q, k, lse, q_pos, k_pos, p_lo, p_hi, kv_len, qk_scale, slope,
                               window_left, window_right, n_global, start_n, BLOCK_N, CAUSAL,
                               HAS_ALIBI, HAS_WINDOW, HAS_GLOBAL, DOT_PRECISION)
            dp = tl.dot(do, tl.trans(v), input_precision=DOT_PRECISION)
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k, input_precision=DOT_PRECISION)

    dq *= softmax_scale
    tl.store(DQ + b * stride_dqb + h * stride_dqh + rows[:, None] * stride_dqm + offs_d[None, :],
             dq.to(DQ.dtype.element_ty), mask=row_tile)


def _blocks(pass_name: str, head_dim: int, dtype: torch.dtype):
    """(BLOCK_M, BLOCK_N, BLOCK_D, num_warps, num_stages) for one launch."""
    block_d = max(16, triton.next_power_of_2(head_dim))
    if interpreting():
        return INTERPRETER_BLOCK, INTERPRETER_BLOCK, block_d, 1, 1
    block_m, block_n, warps, stages = BLOCKS[(pass_name, 64 if block_d <= 64 else 128)]
    if dtype == torch.float32:
        block_n //= 2
        stages = 2
    return block_m, block_n, block_d, warps, stages


def _flags(q, slopes, window, seqlens, n_global, causal):
    """Constexpr flags and run-time arguments shared by the three kernels."""
    has_window = window != (-1, -1)
    return dict(
        HEAD_DIM=q.shape[-1], CAUSAL=bool(causal), HAS_ALIBI=slopes is not None,
        HAS_WINDOW=has_window, HAS_GLOBAL=has_window and n_global > 0,
        HAS_SEQLENS=seqlens is not None,
        # float32 inputs keep full precision instead of TF32 tensor-core products
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
    )


def _forward(q, k, v, causal, scale, slopes, window, seqlens, n_global):
    batch, heads, lq, head_dim = q.shape
    lk = k.shape[-2]
    out = torch.empty_like(q)
    lse = torch.empty((batch, heads, lq), device=q.device, dtype=torch.float32)
    block_m, block_n, block_d, warps, stages = _blocks("forward", head_dim, q.dtype)
    grid = (triton.cdiv(lq, block_m), batch * heads)
    _attention_forward[grid](
        q, k, v, out, lse, slopes if slopes is not None else lse, seqlens if seqlens is not None else lse,
        *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *out.stride()[:3],
        heads, lq, lk, scale * LOG2E, window[0], window[1], n_global,
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d, num_warps=warps, num_stages=stages,
        **_flags(q, slopes, window, seqlens, n_global, causal),
    )
    return out, lse


def _backward(do, q, k, v, out, lse, causal, scale, slopes, window, seqlens, n_global):
    batch, heads, lq, head_dim = q.shape
    lk = k.shape[-2]
    delta = (do.float() * out.float()).sum(-1).contiguous()  # rowsum(dO * O), (B, H, Lq)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    block_m, block_n, block_d, warps, stages = _blocks("backward", head_dim, q.dtype)
    flags = _flags(q, slopes, window, seqlens, n_global, causal)
    common = dict(BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d, num_warps=warps,
                  num_stages=stages, **flags)
    slopes = slopes if slopes is not None else lse
    seqlens = seqlens if seqlens is not None else lse
    strides = (*q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *do.stride()[:3])
    runtime = (heads, lq, lk, scale * LOG2E, scale, window[0], window[1], n_global)
    _attention_backward_dkdv[(triton.cdiv(lk, block_n), batch * heads)](
        q, k, v, do, lse, delta, dk, dv, slopes, seqlens,
        *strides, *dk.stride()[:3], *dv.stride()[:3], *runtime, **common)
    _attention_backward_dq[(triton.cdiv(lq, block_m), batch * heads)](
        q, k, v, do, lse, delta, dq, slopes, seqlens,
        *strides, *dq.stride()[:3], *runtime, **common)
    return dq, dk, dv


class FlashAttention(torch.autograd.Function):
    """Autograd wrapper: the forward saves the log-sum-exp, the backward recomputes tiles."""

    @staticmethod
    def forward(ctx, q, k, v, causal, scale, slopes, window, seqlens, n_global):
        out, lse = _forward(q, k, v, causal, scale, slopes, window, seqlens, n_global)
        ctx.save_for_backward(q, k, v, out, lse, slopes, seqlens)
        ctx.options = (causal, scale, window, n_global)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse, slopes, seqlens = ctx.saved_tensors
        causal, scale, window, n_global = ctx.options
        dq, dk, dv = _backward(last_dim_contiguous(dout), q, k, v, out, lse, causal, scale,
                               slopes, window, seqlens, n_global)
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
    if q.shape[-1] > 128:
        raise ValueError(f"the triton backend supports head dims up to 128, got {q.shape[-1]}")
    q, k, v = (last_dim_contiguous(x) for x in (q, k, v))
    scale = float(softmax_scale) if softmax_scale is not None else q.shape[-1] ** -0.5
    if alibi_slopes is not None:
        alibi_slopes = alibi_slopes.detach().to(device=q.device, dtype=torch.float32).contiguous()
    if seqlens is not None:
        seqlens = torch.as_tensor(seqlens, device=q.device).to(torch.int32).contiguous()
    window = tuple(int(w) for w in window)
    n_global = int(n_global) if window != (-1, -1) else 0
    return FlashAttention.apply(q, k, v, bool(causal), scale, alibi_slopes, window, seqlens, n_global)
