"""Scores of alleles under a model, the common ground of `genotx ism` and variant effects.

An allele is ``Allele(context, start, ref, alt)``: ``context[start:start + len(ref)] == ref``
is replaced by ``alt``. Scores, by the kind of model (`genotx.models.adapter`):

- MLM, `masked_marginal`: in the reference window, the tokens that overlap the
  allele are replaced by MASK; likewise in the alternate window; the score is the
  summed log-probability of the alternate tokens minus that of the reference
  tokens at those positions. Tokens of fixed width (bases, k-mers, the
  Nucleotide Transformer's 6-mers) give the same masked row for ref and every
  alternative at a position, so the row runs once for all of them;
- MLM indels, `pseudo_loglik`: the pseudo-log-likelihood of the alternate
  window minus that of the reference window (each token masked in turn);
- AR, `sequence_loglik`: the summed log-likelihood of the window's tokens;
- classifier / regressor, `head_values`: the chosen class's probability, or the value.

Rows run in batches of similar length under `torch.inference_mode`.

Example::

    scores = masked_marginal(adapter, [Allele("ACGTACGT", 3, "T", "G")], width=128)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from genotx.errors import InputError
from genotx.runtime import import_torch


class Allele(NamedTuple):
    context: str
    start: int  # 0-based start of ref in context
    ref: str
    alt: str


def fitting_width(adapter, context: str, width: int | None) -> int:
    """Bases of context around an allele: ``width`` (or all of it), shrunk until its tokens fit the model."""
    width = min(width or len(context), len(context))
    limit = adapter.max_sequence_tokens - 2  # room for an insertion's extra tokens
    tokens = len(adapter.tokenize(context[:width])[0])
    while tokens > limit and width > 1:
        width = max(1, int(width * limit / tokens * 0.95))
        tokens = len(adapter.tokenize(context[:width])[0])
    return width


def windows(allele: Allele, width: int) -> tuple[str, str, int]:
    """(ref window, alt window, start of the allele in both) of about ``width`` bases centred on the allele."""
    context, start, ref, alt = allele
    left = max(0, start - (width - len(ref)) // 2)
    right = min(len(context), left + width)
    left = max(0, min(left, right - width))
    ref_window = context[left:right]
    i = start - left
    return ref_window, ref_window[:i] + alt + ref_window[i + len(ref) :], i


def _batches(adapter, rows: list[np.ndarray], batch_size: int):
    """(indices, TokenBatch) of the rows, in batches of similar length."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    for s in range(0, len(order), batch_size):
        chosen = order[s : s + batch_size]
        yield chosen, adapter.batch([rows[i] for i in chosen])


def _masked(adapter, seq: str, start: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row with MASK over the tokens overlapping [start, start+length), their indices, their true ids)."""
    ids, offsets = adapter.tokenize(seq)
    end = start + max(length, 1)  # a deletion masks the tokens at its site
    hit = np.flatnonzero((offsets[:, 0] < end) & (offsets[:, 1] > start))
    masked = ids.copy()
    masked[hit] = adapter.mask_id
    return masked, hit, ids[hit]


def _masked_sums(adapter, requests: list[tuple[np.ndarray, np.ndarray, np.ndarray]], batch_size: int) -> np.ndarray:
    """Summed log p(ids) at the masked token positions of each (masked row, positions, ids) request.

    Equal masked rows run once: the unique rows are batched, and each request
    reads its positions from its row's log-probabilities.
    """
    torch = import_torch()
    index: dict[bytes, int] = {}
    unique, row_of = [], []
    for masked, _, _ in requests:
        key = masked.tobytes()
        if key not in index:
            index[key] = len(unique)
            unique.append(masked)
        row_of.append(index[key])
    asking: dict[int, list[int]] = {}
    for r, row in enumerate(row_of):
        asking.setdefault(row, []).append(r)
    sums = np.zeros(len(requests))
    lead = len(adapter.prefix)
    with torch.inference_mode():
        for chosen, batch in _batches(adapter, unique, batch_size):
            select = batch.ids == adapter.mask_id
            logp = adapter.log_probs(batch, select).cpu().numpy()  # (N, vocab), masked positions in row-major order
            select = select.cpu().numpy()
            first = 0
            for b, row in enumerate(chosen):
                positions = np.flatnonzero(select[b]) - lead
                for r in asking[row]:
                    _, hit, ids = requests[r]
                    sums[r] = logp[first + np.searchsorted(positions, hit), ids].sum()
                first += len(positions)
    return sums


def masked_marginal(adapter, alleles: list[Allele], *, width: int | None = None, batch_size: int = 64) -> np.ndarray:
    """Masked-marginal log-likelihood ratio alt vs ref of each allele (see the module docstring)."""
    if adapter.mask_id is None:
        raise InputError(f"{adapter.source}: the model has no MASK token")
    requests = []
    for allele in alleles:
        ref_window, alt_window, i = windows(allele, width or len(allele.context))
        requests.append(_masked(adapter, alt_window, i, len(allele.alt)))
        requests.append(_masked(adapter, ref_window, i, len(allele.ref)))
    sums = _masked_sums(adapter, requests, batch_size)
    return sums[0::2] - sums[1::2]


def sequence_loglik(adapter, seqs: list[str], *, batch_size: int = 64) -> np.ndarray:
    """Summed log-likelihood of each sequence's tokens under an AR model (the first token given the prefix)."""
    def summed(batch):
        picked = adapter.log_probs(batch)[:, :-1].gather(-1, batch.ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        return (picked * batch.real[:, 1:]).sum(1)

    return _per_sequence(adapter, seqs, batch_size, summed)


def _per_sequence(adapter, seqs: list[str], batch_size: int, score) -> np.ndarray:
    """One float per sequence: ``score(batch)`` of each length-sorted batch, back in input order."""
    torch = import_torch()
    rows = [adapter.tokenize(s)[0] for s in seqs]
    out = np.zeros(len(seqs))
    with torch.inference_mode():
        for chosen, batch in _batches(adapter, rows, batch_size):
            out[chosen] = score(batch).double().cpu().numpy()
    return out


def pseudo_loglik(adapter, seqs: list[str], *, batch_size: int = 64) -> np.ndarray:
    """Pseudo-log-likelihood of each sequence under an MLM.

    For every base, the tokens that overlap it are masked and their
    log-probabilities summed; equal masked rows count once. With bases or
    non-overlapping k-mers as tokens this is the usual PLL (each token masked in
    turn); with overlapping k-mers, each base's k tokens are masked together,
    since one masked k-mer alone is spelled out by its neighbours.
    """
    requests, owners = [], []
    for n, seq in enumerate(seqs):
        seen = set()
        for p in range(len(seq)):
            request = _masked(adapter, seq, p, 1)
            if request[0].tobytes() not in seen:
                seen.add(request[0].tobytes())
                requests.append(request)
                owners.append(n)
    sums = _masked_sums(adapter, requests, batch_size)
    return np.bincount(np.asarray(owners, np.int64), weights=sums, minlength=len(seqs))


def head_values(adapter, seqs: list[str], *, target: int = -1, batch_size: int = 64) -> np.ndarray:
    """Probability of class ``target`` (classifier) or the predicted value (regressor) of each sequence."""
    def value(batch):
        values = adapter.head(batch)
        return values if values.dim() == 1 else values[:, target]

    return _per_sequence(adapter, seqs, batch_size, value)


def _difference(values_of, alleles: list[Allele], width: int | None) -> np.ndarray:
    """values(alt window) - values(ref window) per allele; each distinct window runs once."""
    pairs = [windows(a, width or len(a.context))[:2] for a in alleles]
    distinct = sorted({w for pair in pairs for w in pair})
    position = {w: i for i, w in enumerate(distinct)}
    values = values_of(distinct) if distinct else np.zeros(0)
    return np.array([values[position[alt]] - values[position[ref]] for ref, alt in pairs])


def allele_scores(adapter, alleles: list[Allele], *, width: int | None = None, target: int = -1,
                  batch_size: int = 64) -> np.ndarray:
    """The score of each allele for the adapter's kind of model (see the module docstring)."""
    if adapter.kind == "mlm":
        scores = np.full(len(alleles), np.nan)
        same = [i for i, a in enumerate(alleles) if len(a.ref) == len(a.alt)]
        indels = [i for i, a in enumerate(alleles) if len(a.ref) != len(a.alt)]
        if same:
            scores[same] = masked_marginal(adapter, [alleles[i] for i in same], width=width, batch_size=batch_size)
        if indels:
            pll = (lambda seqs: pseudo_loglik(adapter, seqs, batch_size=batch_size))
            scores[indels] = _difference(pll, [alleles[i] for i in indels], width)
        return scores
    if adapter.kind == "ar":
        return _difference(lambda seqs: sequence_loglik(adapter, seqs, batch_size=batch_size), alleles, width)
    if adapter.kind in ("classifier", "regressor"):
        return _difference(lambda seqs: head_values(adapter, seqs, target=target, batch_size=batch_size), alleles, width)
    raise InputError(f"{adapter.source}: a bare encoder gives no scores (it has no LM or classification head); "
                     "use genotx embed with it")
