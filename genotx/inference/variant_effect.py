"""`genotx predict --task variant`: variant effects from TSV or VCF, written as TSV or back into the VCF.

The score of each variant, in a window of ``--window`` bases centred on it
(`genotx.inference.likelihood`):

- masked LM: substitutions by the masked-marginal log-likelihood ratio alt vs
  ref; indels by the pseudo-log-likelihood of the alternate window minus the
  reference window's;
- autoregressive LM: log-likelihood of the alternate window minus the
  reference window's, summed over both strands;
- a genotx model from ``finetune --task variant``: the probability of its
  positive class, as before (other fine-tuned genotx models are refused).

VCF input (plain or bgzip, detected from its first line) needs
``--reference``. A multi-allelic record gives one row per ALT. A REF that
does not match the reference (or a chromosome it lacks) gives a warning naming
the record and the score NA, or exit status 2 with ``--strict``, in a VCF and
in a TSV alike; symbolic
and missing ALTs (``<DEL>``, ``*``, ``.``) score NA. With ``--output-vcf``
the input VCF comes back on stdout with the scores in an INFO field declared
in its header (one value per ALT, ``.`` for NA).

Example::

    score_variant_files("runs/mlm", ["calls.vcf.gz"], reference="genome.fa", output_vcf=True)
"""

from __future__ import annotations

import sys

import numpy as np

from genotx.errors import InputError
from genotx.inference.likelihood import Allele, allele_scores, fitting_width, windows
from genotx.io.reader import revcomp

COLUMNS = ["id", "chrom", "pos", "ref", "alt", "score"]
CHUNK = 512  # variants scored, then written, together


def _window_alleles(variants, width: int) -> list[Allele]:
    """Each variant as an allele in its own window (no chromosome-long contexts downstream)."""
    alleles = []
    for v in variants:
        ref_window, _, i = windows(Allele(v.context, v.offset, v.ref, v.alt), width)
        alleles.append(Allele(ref_window, i, v.ref, v.alt))
    return alleles


def variant_scorer(model_dir: str, *, window: int, batch_size: int, **load_options):
    """A function from a list of `genotx.tasks.variant.Variant` to their scores (see the module docstring)."""
    from genotx.models.adapter import load_adapter, model_format

    if model_format(model_dir) == "genotx" and _genotx_head(model_dir) != "lm":
        from genotx.inference.variant import _scorer

        return _scorer(model_dir, window, batch_size)  # a variant classifier's, or the error naming what the model is
    adapter = load_adapter(model_dir, **load_options)
    if adapter.kind not in ("mlm", "ar", "classifier", "regressor"):
        raise InputError(f"{model_dir}: variant scores need an MLM or AR model (or a classifier); this is a bare encoder")
    width_cache: list[int] = []

    def score(variants) -> np.ndarray:
        if not width_cache:  # the window, shrunk where its tokens would not fit the model
            first = windows(Allele(variants[0].context, variants[0].offset, variants[0].ref, variants[0].alt), window)[0]
            width_cache.append(fitting_width(adapter, first, window))
        alleles = _window_alleles(variants, width_cache[0])
        scores = allele_scores(adapter, alleles, batch_size=batch_size)
        if adapter.kind == "ar":  # the model reads left to right: each strand sees the variant with context
            mirrored = [Allele(revcomp(a.context), len(a.context) - a.start - len(a.ref), revcomp(a.ref), revcomp(a.alt))
                        for a in alleles]
            scores = scores + allele_scores(adapter, mirrored, batch_size=batch_size)
        return scores

    return score


def _genotx_head(model_dir: str) -> str | None:
    import json
    import os

    from genotx.models.checkpoint import resolve_model_dir

    try:
        with open(os.path.join(resolve_model_dir(model_dir), "config.json")) as fh:
            return json.load(fh)["model"].get("head", "lm")
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None  # loading the checkpoint names what is wrong with it


def score_variant_files(model_dir: str, paths: list[str], *, reference: str | None = None, window: int = 128,
                        batch_size: int = 64, strict: bool = False, output_vcf: bool = False,
                        info_field: str = "GENOTX_SCORE", **load_options) -> None:
    """Read variant TSVs or VCFs, write ``id chrom pos ref alt score`` rows (or the VCF with ``--output-vcf``)."""
    from genotx.io.vcf import looks_like_vcf
    from genotx.tasks.variant import load_reference

    kinds = ["vcf" if looks_like_vcf(p) else "tsv" for p in paths]
    if output_vcf and (kinds != ["vcf"]):
        raise InputError("--output-vcf writes one VCF back: give exactly one VCF input")
    if "vcf" in kinds and not reference:
        raise InputError("VCF input needs --reference FASTA (the genome its positions refer to)")
    scorer = variant_scorer(model_dir, window=window, batch_size=batch_size, **load_options)
    genome = load_reference(reference) if reference else None
    if output_vcf:
        _score_vcf(paths[0], genome, scorer, strict=strict, info_field=info_field)
        return
    from genotx.io import TsvWriter
    from genotx.tasks.variant import load_variants

    with TsvWriter(COLUMNS) as out:
        for path, kind in zip(paths, kinds):
            if kind == "vcf":
                for variants, scores in _vcf_chunks(path, genome, scorer, strict):
                    out.write_rows((v.id, v.chrom, v.pos, v.ref, v.alt, s) for v, s in zip(variants, scores))
                continue
            variants = load_variants(path, genome, strict=strict)
            for start in range(0, len(variants), CHUNK):
                chunk = variants[start : start + CHUNK]
                out.write_rows((v.id, v.chrom, v.pos, v.ref, v.alt, s) for v, s in zip(chunk, _scored(scorer, chunk)))


def _scored(scorer, variants) -> list:
    """Scores of the variants, None (NA) for those kept with a problem (a REF mismatch without --strict)."""
    scores: list = [None] * len(variants)
    ok = [i for i, v in enumerate(variants) if v.problem is None]
    if ok:
        for i, score in zip(ok, scorer([variants[i] for i in ok])):
            scores[i] = float(score)
    return scores


def _score_vcf(path, genome, scorer, *, strict: bool, info_field: str) -> None:
    from genotx.io.tsv import command_line
    from genotx.io.vcf import VcfWriter

    chunks = _vcf_chunks(path, genome, scorer, strict, keep_records=True)
    header = next(chunks)
    description = "genotx variant effect: log-likelihood ratio alt vs ref (or classifier probability)"
    with VcfWriter(sys.stdout, header, info_field, description, provenance=f"genotx {command_line()}") as out:
        for records, variants, scores in chunks:
            values, start = [], 0
            for r in records:  # the variants are the records' ALTs in order
                values.append(scores[start : start + len(r.alts)])
                start += len(r.alts)
            out.write(records, values)


def _vcf_chunks(path, genome, scorer, strict: bool, keep_records: bool = False):
    """Per chunk of records: (variants, scores), NA where unscorable; with keep_records the header first,
    then (records, variants, scores); the variants are the records' ALTs in order."""
    from genotx.io.vcf import VcfReader

    reader = VcfReader(path)
    if keep_records:
        yield reader.header
    records: list = []

    def flush():
        variants, unscorable = _variants(records, genome, reader.name, strict)
        scores = np.full(len(variants), np.nan)
        ok = [i for i, v in enumerate(variants) if i not in unscorable]
        if ok:
            scores[ok] = scorer([variants[i] for i in ok])
        values = [None if s != s else float(s) for s in scores]
        return (records, variants, values) if keep_records else (variants, values)

    for record in reader:
        records.append(record)
        if len(records) == CHUNK:
            yield flush()
            records = []
    if records:
        yield flush()


def _variants(records, genome, name: str, strict: bool):
    """Variants of the records' ALTs, and the indices of those that cannot be scored (after warning)."""
    from genotx.progress import warn
    from genotx.tasks.variant import Variant

    variants, unscorable = [], set()
    for record in records:
        where = f"{name}: line {record.number} ({record.name()!r})"
        context = genome.get(record.chrom)
        offset = record.pos - 1
        problem = None
        if context is None:
            problem = f"chromosome {record.chrom!r} is not in the reference"
        elif context[offset : offset + len(record.ref)] != record.ref:
            problem = (f"REF {record.ref!r} does not match the reference at {record.chrom}:{record.pos} "
                       f"(it has {context[offset : offset + len(record.ref)]!r})")
        if problem and strict:
            raise InputError(f"{where}: {problem}")
        if problem:
            warn(f"{where}: {problem}; score NA")
        for rid, alt in record.alleles():
            symbolic = not alt or alt in (".", "*") or alt.startswith("<") or not set(alt) <= set("ACGTN")
            if not problem and symbolic:
                warn(f"{where}: ALT {alt!r} is not a sequence; score NA")
            if problem or symbolic or alt == record.ref:
                unscorable.add(len(variants))
            variants.append(Variant(rid, record.chrom, record.pos, record.ref, alt, context or "", offset))
    return variants, unscorable
