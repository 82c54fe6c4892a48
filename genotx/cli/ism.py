"""In-silico saturation mutagenesis: the score of every single-base change; TSV id pos ref alt score.

For each position (1-based) and each of the three other bases, the model's
score change: the masked-marginal log-likelihood ratio alt vs ref for a
masked LM, the log-likelihood of the mutated sequence minus the original's
for an autoregressive LM, the change of a class probability for a fine-tuned
classifier (--class, default the last class) or of the value for a regressor.
Positions with N are skipped. Rows stream record by record, ordered by
position and alt base.

The positions can be limited (--positions 100-200, 150, -50 or 100-);
--both-strands averages the score with that of the reverse complement (the
complementary change at the mirrored position). --model takes a genotx
checkpoint or a Hugging Face model directory (see genotx embed --help).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli import _model_options as opt
from genotx.cli._common import command, inputs_argument, paths_or_stdin


def _target(adapter, name: Optional[str]) -> int:
    from genotx.errors import InputError

    if adapter.kind == "encoder":
        raise InputError(f"{adapter.source}: a bare encoder gives no scores (no LM or classification head)")
    if name is None:
        return -1
    if adapter.kind != "classifier":
        raise InputError(f"--class is for classifiers; {adapter.source} is a {adapter.kind} model")
    if name not in adapter.classes:
        raise InputError(f"--class {name!r}: the model's classes are {', '.join(map(str, adapter.classes))}")
    return adapter.classes.index(name)


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
    model: str = typer.Option(..., "--model", "-m", help=opt.MODEL_HELP),
    positions: Optional[str] = typer.Option(None, "--positions", help="1-based FIRST-LAST, POS, FIRST- or -LAST (default: all)."),
    both_strands: bool = typer.Option(False, "--both-strands", help="Average with the reverse complement's score."),
    class_name: Optional[str] = typer.Option(None, "--class", help="Classifier: the class whose probability is scored (default: the last)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Rows per forward pass."),
    precision: str = opt.PRECISION,
    device: str = opt.DEVICE,
    allow_pickle: bool = opt.ALLOW_PICKLE,
    trust_remote_code: bool = opt.TRUST_REMOTE_CODE,
) -> None:
    from genotx.inference.ism import IsmOptions, ism_rows, parse_positions
    from genotx.io import TsvWriter, iter_batches
    from genotx.models.adapter import load_adapter

    first, last = parse_positions(positions)
    paths = paths_or_stdin(inputs)
    adapter = load_adapter(model, **opt.load_options(precision, device, allow_pickle, trust_remote_code))
    options = IsmOptions(first=first, last=last, both_strands=both_strands, target=_target(adapter, class_name),
                         batch_size=batch_size)
    with TsvWriter(["id", "pos", "ref", "alt", "score"]) as out:
        for batch in iter_batches(paths, quals=False):
            for rid, seq in zip(batch.ids, batch.seqs):
                out.write_rows(ism_rows(adapter, rid, seq, options))
