"""`predict --task taxon` on several threads: the same bytes as on one, for every kind of input, and bad input mid-stream.

The reads are the 10,000 of examples/reads.fq.gz: three batches of 4096 records, so
threads really work on different batches at once.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, genotx_env, run_genotx

READS = REPO / "examples" / "reads.fq.gz"
BATCH = 4096  # records per batch (genotx.io.reader.DEFAULT_BATCH)


def fastq_records() -> list[bytes]:
    lines = gzip.decompress(READS.read_bytes()).splitlines(keepends=True)
    return [b"".join(lines[i : i + 4]) for i in range(0, len(lines), 4)]


def as_fasta(records: list[bytes]) -> bytes:
    """The same reads as FASTA, sequences wrapped at 60 bases (multi-line records)."""
    out = []
    for record in records:
        head, seq = record.split(b"\n")[:2]
        out.append(b">" + head[1:] + b"\n" + b"\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + b"\n")
    return b"".join(out)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("threads")
    fastq = b"".join(fastq_records())
    texts = {"fastq": fastq, "fastq.gz": gzip.compress(fastq, 1), "fasta": as_fasta(fastq_records())}
    texts["fasta.gz"] = gzip.compress(texts["fasta"], 1)
    paths = {}
    for name, data in texts.items():
        paths[name] = folder / f"reads.{name}"
        paths[name].write_bytes(data)
    return paths


def body(stdout: bytes) -> bytes:
    """The output without its provenance line (which names the command and so the thread count)."""
    first, _, rest = stdout.partition(b"\n")
    assert first.startswith(b"#genotx ")
    return rest


@pytest.fixture(scope="module")
def reference() -> bytes:
    """Header and rows of the reads by the Python reference: `taxon_rows` through `format_rows`, one batch at a time."""
    from genotx.inference.predict import Predictor
    from genotx.io import iter_batches
    from genotx.io.tsv import format_rows
    from genotx.shipped import default_model

    predictor = Predictor.load(default_model("taxon"), "taxon", min_prob=0.5)
    rows = "".join(format_rows(predictor.rows(batch), len(predictor.columns))
                   for batch in iter_batches([str(READS)], quals=False))
    return ("\t".join(predictor.columns) + "\n" + rows).encode()


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("kind", ["fastq", "fastq.gz", "fasta", "fasta.gz"])
def test_rows_are_the_python_reference_byte_for_byte_on_any_thread_count(inputs, reference, kind, source):
    for threads in ("1", "2", "3"):
        if source == "file":
            proc = run_genotx("-t", threads, "-q", "predict", "--task", "taxon", str(inputs[kind]))
        else:
            proc = run_genotx("-t", threads, "-q", "predict", "--task", "taxon", stdin=inputs[kind].read_bytes())
        assert proc.returncode == 0, proc.stderr
        assert body(proc.stdout) == reference, f"-t {threads}, {kind} from {source}"
    assert reference.count(b"\n") == 10_001


def damaged_at(number: int) -> bytes:
    """The reads with record `number` (1-based) given a quality line one character short."""
    records = fastq_records()
    head, seq, plus, qual = records[number - 1].split(b"\n")[:4]
    records[number - 1] = b"\n".join([head, seq, plus, qual[:-1]]) + b"\n"
    return b"".join(records)


@pytest.mark.parametrize("number", [9000, 100])
def test_bad_record_mid_stream_exits_2_after_the_rows_of_the_batches_before_it(reference, number):
    """The rows of whole batches before the bad one, for any thread count; nothing of the bad batch."""
    data = damaged_at(number)
    rows_before = (number - 1) // BATCH * BATCH
    for threads in ("1", "2", "3"):
        proc = run_genotx("-t", threads, "-q", "predict", "--task", "taxon", stdin=gzip.compress(data, 1))
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("genotx: error: <stdin>: record ") and f"record {number} " in err
        if rows_before == 0:
            assert proc.stdout == b"", f"-t {threads}: output before the first batch"
        else:
            expected = b"".join(reference.splitlines(keepends=True)[: 1 + rows_before])
            assert body(proc.stdout) == expected, f"-t {threads}"


BLOCK_C_EXTENSIONS = """
import sys
class NoC:
    def find_spec(self, name, path=None, target=None):
        if name in ("genotx.taxon._rows", "genotx.taxon._kmer_hits", "genotx.io._fastq"):
            raise ImportError(name + " is blocked: as if built without a C compiler")
sys.meta_path.insert(0, NoC())
from genotx.cli import app
app(sys.argv[1:])
"""


def test_without_the_c_extensions_the_rows_are_the_same(inputs, reference):
    """The pure-Python fallbacks (reader, k-mer look-up, row text) give the same bytes, on two threads too."""
    proc = subprocess.run([sys.executable, "-c", BLOCK_C_EXTENSIONS, "-t", "2", "-q", "predict", "--task", "taxon",
                           str(inputs["fastq.gz"])], capture_output=True, env=genotx_env(), cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert body(proc.stdout) == reference


@pytest.fixture(scope="module")
def cascade_model(tmp_path_factory) -> Path:
    """The shipped model with network weight 0.185 and memory weight 0.048 (a leave-one-strain-out refit), cascade 0.9."""
    import json

    folder = tmp_path_factory.mktemp("cascade")
    source = REPO / "models" / "taxon-default"
    for path in source.iterdir():
        if path.name != "config.json":
            (folder / path.name).symlink_to(path)
    config = json.loads((source / "config.json").read_text())
    config["metadata"]["kmer_memory"].update(weights=[0.185, 0.048], cascade=0.9)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_the_cascade_gives_the_same_rows_on_any_thread_count_and_batch_size(cascade_model):
    outputs = {}
    for threads, batch_size in (("1", "256"), ("2", "256"), ("2", "37")):
        proc = run_genotx("-t", threads, "predict", "--model", str(cascade_model), "--batch-size", batch_size,
                          str(READS))
        assert proc.returncode == 0, proc.stderr
        outputs[threads, batch_size] = body(proc.stdout)
        share = proc.stderr.decode().splitlines()[-1]
        assert share.startswith("genotx: the network ran on ") and " of 10000 reads (" in share, share
    assert len(set(outputs.values())) == 1 and outputs["1", "256"].count(b"\n") == 10_001
    quiet = run_genotx("-q", "predict", "--model", str(cascade_model), str(READS))
    assert quiet.stderr == b"" and body(quiet.stdout) == outputs["1", "256"]
