"""Strand flips of right-padded batches, for RC equivariance and bidirectional scans.

A row of length n (the rest padding) is reversed in its first n positions and
its padding stays at the end, so flipping twice gives the row back.

Example::

    index = reverse_index(lengths, ids.shape[1])
    rc_ids = revcomp_ids(ids, index, complement)     # the other strand, same padding
"""

from __future__ import annotations

import torch


def reverse_index(lengths: torch.Tensor | None, length: int, batch: int = 1, device=None) -> torch.Tensor:
    """(B, L) long: position i of the flipped row reads position index[b, i] of the row.

    >>> reverse_index(torch.tensor([3]), 5).tolist()
    [[2, 1, 0, 3, 4]]
    """
    if lengths is None:
        return torch.arange(length - 1, -1, -1, device=device).expand(batch, length)
    positions = torch.arange(length, device=lengths.device)[None, :]
    lengths = lengths[:, None].long()
    return torch.where(positions < lengths, lengths - 1 - positions, positions)


def flip_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Reorder the positions (dim 1) of x (B, L, ...) by a `reverse_index`."""
    if index.dim() == 2 and x.dim() > 2:
        index = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:])
    return torch.gather(x, 1, index)


def revcomp_ids(ids: torch.Tensor, index: torch.Tensor, complement: torch.Tensor) -> torch.Tensor:
    """Token ids of the reverse-complement strand: flipped rows, each token complemented."""
    return complement[flip_rows(ids, index)]
