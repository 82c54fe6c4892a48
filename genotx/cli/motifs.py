"""Motifs from a trained model's attention (or attribution), matched to JASPAR.

Output columns: motif_id, layer, head, width, ic_total, consensus, n_sites,
jaspar_id, jaspar_name, similarity, q_value, site_rate, random_site_rate,
selection_p. Matches are ranked by similarity; q-values come from column
shuffles, more of them (up to --max-shuffles) where few shuffles score above a
match. The last three columns, always computed, say whether the motif came
from where the model looked: the share of the model's windows holding a site of
the motif, the share expected of random windows at the same positions on other
input sequences, and the probability that those hold as many (cross-fitted on
two halves of the sequences drawn from --seed; small: the model's windows beat
random ones). With --heads: layer, head,
cpg_focus, palindrome_symmetry, periodicity_10bp. Models without attention
layers are read through gradient x input attribution (head "grad_x_input").

--model may be a Hugging Face model directory (a classifier from genotx
finetune --from, DNABERT, the Nucleotide Transformer): its attention comes from
transformers, mapped from tokens to the bases they cover (a 6-mer's weight
shared among its six bases; [CLS]/[SEP] dropped). --attribution explains a
classifier's predicted class, a regressor's value or an MLM's likelihood of
the sequence; a bare encoder has nothing to explain and is refused.
"""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from genotx.cli import _model_options as opt
from genotx.cli._common import command, inputs_argument, paths_or_stdin, require
from genotx.io import TsvWriter, iter_records

MOTIF_COLUMNS = ["motif_id", "layer", "head", "width", "ic_total", "consensus", "n_sites",
                 "jaspar_id", "jaspar_name", "similarity", "q_value", "site_rate", "random_site_rate", "selection_p"]
HEAD_COLUMNS = ["layer", "head", "cpg_focus", "palindrome_symmetry", "periodicity_10bp"]
ATTRIBUTION = "grad_x_input"


def _read(inputs, max_seqs: int) -> list:
    from genotx.progress import warn

    seqs = []
    for rec in iter_records(paths_or_stdin(inputs)):
        if len(seqs) == max_seqs:
            warn(f"using the first {max_seqs} sequences (--max-seqs)")
            break
        seqs.append(rec.seq)
    return seqs


def _head_rows(attend, seqs, batch_size):
    import numpy as np

    from genotx.motifs.heads import HeadScores
    from genotx.motifs.pfm import encode
    from genotx.progress import progress

    scores: dict = {}
    with progress("attention", total=len(seqs)) as bar:
        for seq, layers in zip(seqs, attend(seqs, batch_size)):
            codes = encode(seq)
            for li, heads in enumerate(layers):
                for hi, attention in enumerate(heads):
                    scores.setdefault((li, hi), HeadScores()).add(np.asarray(attention, dtype=float), codes)
            bar.advance(1)
    for (li, hi), hs in sorted(scores.items()):
        r = hs.result()
        yield li, hi, r["cpg_focus"], r["palindrome_symmetry"], r["periodicity_10bp"]


def _importance(reader, seqs, batch_size, attribution: bool) -> dict:
    """{(layer, head): [per-base score per sequence]}: attention received, or attribution."""
    from genotx.progress import info, progress

    sources: dict = {}
    with progress("scoring", total=len(seqs)) as bar:
        if attribution:
            info(f"scoring bases by gradient x input attribution (head column: {ATTRIBUTION})")
            for scores in reader.attribute(seqs, batch_size):
                sources.setdefault(("NA", ATTRIBUTION), []).append(scores)
                bar.advance(1)
            return sources
        for layers in reader.attend(seqs, batch_size):
            for li, heads in enumerate(layers):
                received = heads.mean(axis=1)  # (H, L): attention each key base receives
                for hi in range(len(heads)):
                    sources.setdefault((li, hi), []).append(received[hi])
            bar.advance(1)
    return sources


def _motifs(sources: dict, seqs, bg, min_sites: int) -> list:
    from genotx.motifs.discover import discover

    found = []
    for source, scores in sources.items():
        motif = discover(seqs, scores, background_freqs=bg)
        if motif is not None and motif.n_sites >= min_sites:
            motif.source = source
            found.append(motif)
    found.sort(key=lambda m: -m.ic_total)
    return found


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
    model_dir: str = typer.Option(..., "--model", "-m", help=opt.MODEL_HELP),
    meme: Optional[str] = typer.Option(None, "--meme", help="Also write the motifs to this MEME file."),
    logo: Optional[str] = typer.Option(None, "--logo", help="Write one sequence-logo PNG per motif into this folder."),
    heads: bool = typer.Option(False, "--heads", help="One row per layer/head with specialisation scores instead."),
    attribution: bool = typer.Option(False, "--attribution", help="Use gradient x input even if the model has attention."),
    release: str = typer.Option("JASPAR2024", "--release", help="JASPAR release shipped with pyjaspar."),
    collection: str = typer.Option("CORE", "--collection", help="JASPAR collection (CORE, UNVALIDATED)."),
    tax_group: str = typer.Option("vertebrates", "--tax-group", help="JASPAR taxonomic group, or 'all'."),
    top_matches: int = typer.Option(1, "--top-matches", min=1, help="JASPAR matches per motif (one row each, best first)."),
    shuffles: int = typer.Option(200, "--shuffles", min=10, help="Column shuffles per motif for the p-values."),
    max_shuffles: Optional[int] = typer.Option(
        None, "--max-shuffles", min=10, show_default=False,
        help="Shuffles a JASPAR match may get when its p-value is not resolved (default 50 x --shuffles)."),
    min_sites: int = typer.Option(10, "--min-sites", min=2, help="Drop motifs aligned from fewer sites."),
    max_seqs: int = typer.Option(5000, "--max-seqs", min=1, help="Use at most this many input sequences."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Sequences per forward pass."),
    seed: int = typer.Option(0, "--seed", help="Seed of the column shuffles and of the halves of the random-window null."),
    force: bool = typer.Option(False, "--force", help="Replace a --meme file or --logo folder written by genotx."),
    device: str = opt.DEVICE,
    allow_pickle: bool = opt.ALLOW_PICKLE,
    trust_remote_code: bool = opt.TRUST_REMOTE_CODE,
) -> None:
    from genotx.io.outputs import LOGOS, MEME, check_output

    # before the slow part: files that genotx did not write are never replaced
    if meme:
        check_output(meme, MEME, force=force, option="--meme")
    if logo:
        check_output(logo, LOGOS, force=force, option="--logo")
    from genotx.motifs.pfm import background
    from genotx.progress import info

    reader = _Reader(model_dir, {"device": device, "allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code})
    seqs = _read(inputs, max_seqs)
    if heads:
        require(reader.no_attention is None, f"--heads needs attention layers; {model_dir} has {reader.no_attention}")
        with TsvWriter(HEAD_COLUMNS) as out:
            out.write_rows(_head_rows(reader.attend, seqs, batch_size))
        return
    if not attribution and reader.no_attention is not None:
        info(f"{reader.no_attention} has no attention")
        attribution = True
    require(not attribution or reader.cannot_attribute is None, str(reader.cannot_attribute))
    from genotx.motifs import jaspar

    database = jaspar.load(release, collection, tax_group)  # fail on a bad release before the slow part
    bg = background(seqs)
    motifs = _motifs(_importance(reader, seqs, batch_size, attribution), seqs, bg, min_sites) if seqs else []
    rows = _rows(motifs, seqs, database, top_matches, (shuffles, max_shuffles or 50 * shuffles), seed)
    with TsvWriter(MOTIF_COLUMNS) as out:
        out.write_rows(rows)
    names = [f"motif{i + 1}" for i in range(len(motifs))]
    if meme:
        _write_meme(meme, motifs, names, bg)
    if logo:
        _write_logos(logo, motifs, names, bg)


class _Reader:
    """Attention and attribution by base of a genotx checkpoint or of a Hugging Face model directory."""

    def __init__(self, model_dir: str, load_options: dict):
        from genotx.models.hf_load import is_hf_dir

        if is_hf_dir(model_dir):
            from genotx.models.adapter import load_adapter
            from genotx.motifs import hf

            adapter = load_adapter(model_dir, precision="fp32", **load_options)
            self.no_attention = None  # transformers encoders attend; one that returns no weights says so
            self.cannot_attribute = (f"{model_dir}: a bare encoder ({type(adapter.model).__name__}) has no output to "
                                     "attribute; leave out --attribution" if adapter.kind == "encoder" else None)
            self.attend = lambda seqs, batch_size: hf.attention_by_base(adapter, seqs, batch_size)
            self.attribute = lambda seqs, batch_size: hf.gradient_x_input(adapter, seqs, batch_size)
            return
        from genotx.models import load_checkpoint
        from genotx.motifs import collect

        require(load_options["device"] in ("auto", "cpu"), "--device is for Hugging Face models; "
                                                           "genotx models are read on the CPU")
        model, tokenizer, _ = load_checkpoint(model_dir)
        self.no_attention = None if collect.has_attention(model) else f"mixer {model.config.mixer!r}"
        self.cannot_attribute = None
        self.attend = lambda seqs, batch_size: collect.attention_by_base(model, tokenizer, seqs, batch_size)
        self.attribute = lambda seqs, batch_size: collect.gradient_x_input(model, tokenizer, seqs, batch_size)


def _rows(motifs, seqs, database, top_matches, shuffles, seed) -> list:
    from genotx.motifs.compare import TargetSet, match
    from genotx.motifs.null import selection_null
    from genotx.motifs.pfm import encode

    targets = TargetSet([m.counts for m in database])
    codes = [encode(s) for s in seqs]
    rows = []
    for i, motif in enumerate(motifs):
        layer, head = motif.source
        null = selection_null(motif, codes, seed=seed)
        for hit in match(motif.pfm, targets, n_shuffles=shuffles[0], max_shuffles=shuffles[1], seed=seed)[:top_matches]:
            j = database[hit.target]
            rows.append((f"motif{i + 1}", layer, head, motif.width, round(motif.ic_total, 3), motif.consensus,
                         motif.n_sites, j.matrix_id, j.name, round(hit.similarity, 4), hit.q_value,
                         null.site_rate, null.random_site_rate, null.p_value))
    return rows


def _write_meme(path, motifs, names, bg) -> None:
    from genotx.io.atomic import atomic_write
    from genotx.motifs.meme import MemeMotif, write_meme

    entries = [MemeMotif(n, m.pfm, m.n_sites, f"layer{m.source[0]}_head{m.source[1]}") for n, m in zip(names, motifs)]
    with atomic_write(path) as fh:
        write_meme(entries, fh, background=bg)


def _write_logos(folder, motifs, names, bg) -> None:
    from genotx.motifs.logo import write_logo

    from genotx.errors import output_error

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder) from None
    for stale in os.listdir(folder):  # motifN.png of an earlier run (checked: the folder holds only those)
        os.remove(os.path.join(folder, stale))
    for name, m in zip(names, motifs):
        write_logo(os.path.join(folder, f"{name}.png"), m.pfm, bg, title=f"{name}  {m.consensus}")
