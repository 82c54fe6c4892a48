"""Zero-shot variant effect scores from a pretrained language model.

The score is a log-likelihood ratio, alt vs ref (negative: the model finds the
alternate allele less likely, e.g. a broken splice site):

- masked LM: the masked marginal. In a window of ``--window`` bases around the
  variant, the tokens that overlap the variant are replaced by MASK, in the
  reference window and in the alternate window; the score is the summed
  log-probability of the alternate tokens minus that of the reference tokens
  at those masked positions. With single-nucleotide tokens and a substitution
  this is exactly log p(alt) - log p(ref) at the masked site.
- autoregressive LM: the summed log-likelihood of the whole alternate window
  minus that of the reference window, each summed over both strands (the
  model reads left to right, so both strands see the variant with context).

A classifier fine-tuned with ``genotx finetune --task variant`` scores
instead with the probability of its positive class (the last label: 1 of
0/1, pathogenic of benign/pathogenic), so there higher means damaging.

Example::

    rows = score_variants(model, tokenizer, load_variants("snps.tsv", ref), window=128)
"""

from __future__ import annotations

import numpy as np

from genotx.inference.batched import batched_outputs
from genotx.io.reader import revcomp
from genotx.models.encoding import pad_token_rows
from genotx.runtime import import_torch


def _masked_logprob(model, tokenizer, seqs: list[str], spans: list[tuple[int, int]]) -> np.ndarray:
    """Sum of log p(true token) over the tokens overlapping each span, all masked at once."""
    torch = import_torch()
    from genotx.tokenizers import MASK_ID

    encoded = [tokenizer.encode(s) for s in seqs]
    targets, masked = [], []
    for e, s, (a, b) in zip(encoded, seqs, spans):
        off = tokenizer.offsets(s)
        hit = np.nonzero((off[:, 0] < b) & (off[:, 1] > a))[0]
        targets.append((hit, e[hit].copy()))
        m = e.astype(np.int64).copy()
        m[hit] = MASK_ID
        masked.append(m)
    ids, mask = pad_token_rows(masked)
    with torch.inference_mode():
        logp = model(ids, mask).logits.float().log_softmax(-1).numpy()
    return np.array([logp[i, hit, tok].sum() for i, (hit, tok) in enumerate(targets)])


def _ar_loglik(model, tokenizer, seqs: list[str]) -> np.ndarray:
    """Summed log-likelihood of each sequence under a causal LM, CLS as the start symbol."""
    torch = import_torch()
    from genotx.tokenizers import CLS_ID

    encoded = [tokenizer.encode(s).astype(np.int64) for s in seqs]
    ids, mask = pad_token_rows(encoded, lead=CLS_ID)
    with torch.inference_mode():
        logp = model(ids, mask).logits.float().log_softmax(-1)
    nxt = ids[:, 1:]
    picked = logp[:, :-1].gather(-1, nxt.unsqueeze(-1)).squeeze(-1)
    picked = picked * mask[:, 1:]
    return picked.sum(1).numpy()


def score_variants(model, tokenizer, variants, *, window: int = 128, batch_size: int = 64) -> np.ndarray:
    """Log-likelihood ratio alt vs ref for each variant (see the module docstring)."""
    scores = []
    for start in range(0, len(variants), batch_size):
        chunk = variants[start : start + batch_size]
        wins = [v.windows(window) for v in chunk]
        refs, alts = [w[0] for w in wins], [w[1] for w in wins]
        if model.config.causal:
            fwd = _ar_loglik(model, tokenizer, alts + refs)
            rev = _ar_loglik(model, tokenizer, [revcomp(s) for s in alts + refs])
            total = fwd + rev
            scores.append(total[: len(chunk)] - total[len(chunk) :])
        else:
            ref_spans = [(i, i + len(v.ref)) for v, (_, _, i) in zip(chunk, wins)]
            alt_spans = [(i, i + len(v.alt)) for v, (_, _, i) in zip(chunk, wins)]
            scores.append(_masked_logprob(model, tokenizer, alts, alt_spans)
                          - _masked_logprob(model, tokenizer, refs, ref_spans))
    return np.concatenate(scores) if scores else np.zeros(0)


def classifier_scores(model, tokenizer, variants, *, window: int, batch_size: int = 64) -> np.ndarray:
    """Probability of the positive (last) class of a variant classifier from `genotx finetune --task variant`."""
    if not variants:
        return np.zeros(0)
    pairs = [v.windows(window)[:2] for v in variants]
    return batched_outputs(model, tokenizer, pairs, batch_size=batch_size,
                           transform=lambda logits: logits.softmax(-1)[:, -1])


def _scorer(model_dir: str, window: int, batch_size: int):
    """The scoring function of a checkpoint: zero-shot for a language model, learned for a variant classifier."""
    from genotx.errors import InputError
    from genotx.models.checkpoint import load_checkpoint, resolve_model_dir

    model, tokenizer, meta = load_checkpoint(resolve_model_dir(model_dir))
    model.eval()
    task = (meta or {}).get("task")
    if model.config.head == "lm":
        return lambda chunk: score_variants(model, tokenizer, chunk, window=window, batch_size=batch_size)
    if task == "variant" and model.config.head == "classify":
        trained_window = int(meta["window"])  # the classifier only knows the context it was trained on
        return lambda chunk: classifier_scores(model, tokenizer, chunk, window=trained_window, batch_size=batch_size)
    raise InputError(f"{model_dir}: variant scores need a pretrained language model (head 'lm') or a model from "
                     f"`genotx finetune --task variant`; this one has head {model.config.head!r}"
                     + (f" and was fine-tuned for task {task!r}" if task else ""))


def score_variant_files(model_dir: str, paths: list[str], *, reference=None, window=128, batch_size=64) -> None:
    """`genotx predict --task variant`: read variant TSVs, write ``id chrom pos ref alt score``.

    score: the zero-shot log-likelihood ratio of a language model, or the
    positive-class probability of a fine-tuned variant classifier.
    """
    from genotx.io import TsvWriter
    from genotx.tasks.variant import load_reference, load_variants

    scorer = _scorer(model_dir, window, batch_size)
    ref = load_reference(reference) if reference else None
    with TsvWriter(["id", "chrom", "pos", "ref", "alt", "score"]) as out:
        for path in paths:
            variants = load_variants(path, ref)
            for start in range(0, len(variants), 1024):
                chunk = variants[start : start + 1024]
                out.write_rows((v.id, v.chrom, v.pos, v.ref, v.alt, float(s)) for v, s in zip(chunk, scorer(chunk)))
