"""Kernelised linear attention (Katharopoulos et al., 2020), O(L) time and memory.

With a non-negative feature map phi (elu + 1), query i reads

    out_i = sum_j a_ij v_j / sum_j b_ij,   a_ij = qr_i . kr_j,   b_ij = q_i . k_j

over the keys j it may see (all real keys, or j <= i when causal), where q = phi(Q),
k = phi(K) and qr, kr are the same features after an optional rotation (RoPE on
the numerator only, as in RoFormer; without it qr = q, kr = k). The causal form
runs in chunks: an explicit masked product inside each chunk plus a running
state (S = sum kr_j v_j^T, s = sum k_j) carried between chunks, which is also
the cache of step-by-step generation.

Example::

    out, state = linear_attention(phi(Q), phi(K), V, causal=True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK = 64
EPS = 1e-6


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """elu(x) + 1 > 0, so the attention weights q . k are positive."""
    return F.elu(x) + 1.0


def linear_attention(q, k, v, *, causal, q_rot=None, k_rot=None, key_mask=None, state=None, chunk=CHUNK):
    """q, k, q_rot, k_rot: (B, H, L, D) features; v: (B, H, L, E); key_mask (B, L) bool, True = real.

    state: (S (B, H, D, E), s (B, H, D)) of earlier positions (causal only).
    Returns (out (B, H, L, E), new state or None).
    """
    q_rot = q if q_rot is None else q_rot
    k_rot = k if k_rot is None else k_rot
    if key_mask is not None:
        keep = key_mask[:, None, :, None].to(k.dtype)
        k, k_rot = k * keep, k_rot * keep
    if not causal:
        kv = torch.einsum("bhld,bhle->bhde", k_rot, v)
        numerator = torch.einsum("bhld,bhde->bhle", q_rot, kv)
        denominator = torch.einsum("bhld,bhd->bhl", q, k.sum(dim=2))
        return numerator / denominator.clamp(min=EPS)[..., None], None
    return _causal(q, k, v, q_rot, k_rot, state, chunk)


def _causal(q, k, v, q_rot, k_rot, state, chunk):
    batch, heads, length, dim = q.shape
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length

    def split(x):  # (B, H, L, X) -> (B, H, n, C, X), zero padded at the end
        return F.pad(x, (0, 0, 0, pad)).reshape(batch, heads, n_chunks, chunk, x.shape[-1])

    q, k, v, q_rot, k_rot = map(split, (q, k, v, q_rot, k_rot))
    kv = torch.einsum("bhncd,bhnce->bhnde", k_rot, v)
    k_sum = k.sum(dim=3)
    if state is None:
        state = (kv.new_zeros(batch, heads, dim, v.shape[-1]), k_sum.new_zeros(batch, heads, dim))
    # State before each chunk: what came before this call plus the earlier chunks.
    kv_before = state[0][:, :, None] + kv.cumsum(dim=2) - kv
    k_before = state[1][:, :, None] + k_sum.cumsum(dim=2) - k_sum
    inside = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    a = torch.einsum("bhncd,bhnsd->bhncs", q_rot, k_rot).masked_fill(~inside, 0.0)
    b = torch.einsum("bhncd,bhnsd->bhncs", q, k).masked_fill(~inside, 0.0)
    numerator = a @ v + torch.einsum("bhncd,bhnde->bhnce", q_rot, kv_before)
    denominator = b.sum(dim=-1) + torch.einsum("bhncd,bhnd->bhnc", q, k_before)
    out = numerator / denominator.clamp(min=EPS)[..., None]
    out = out.reshape(batch, heads, n_chunks * chunk, -1)[:, :, :length]
    new_state = (kv_before[:, :, -1] + kv[:, :, -1], k_before[:, :, -1] + k_sum[:, :, -1])
    return out, new_state
