"""The fast path of `predict --task taxon`: C look-up against numpy, the mapped index file, threads, row text."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genotx.taxon.classifier as classifier
import genotx.taxon.kmer_index as kmer_index
from genotx.errors import InputError
from genotx.inference.pipeline import ordered_map
from genotx.io.tsv import format_rows
from genotx.taxon.classifier import COLUMNS, taxon_lines, taxon_rows
from genotx.taxon.kmer_index import IndexConfig, KmerIndex

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "taxon-default"
READS = REPO / "examples" / "reads.fq.gz"

needs_c = pytest.mark.skipif(kmer_index._fast is None, reason="genotx.taxon._kmer_hits not built (no C compiler)")


def test_c_lookup_is_built_where_a_c_compiler_exists():
    if shutil.which("cc") or shutil.which("gcc"):
        assert kmer_index._fast is not None, "pip install -e . should have built genotx/taxon/_kmer_hits.c"


def random_index(classes: int, k: int, bits: int, seed: int) -> KmerIndex:
    rng = np.random.default_rng(seed)
    return KmerIndex(IndexConfig(k=k, bits=bits), (rng.random((1 << bits, classes)) < 0.3).astype(np.uint8))


reads = st.lists(st.text("ACGTN", max_size=40) | st.text("ACGT", min_size=100, max_size=300) | st.text("ACGTNRY", max_size=20),
                 max_size=12)


@needs_c
@settings(max_examples=60, deadline=None)
@given(seqs=reads, classes=st.sampled_from([1, 3, 8, 9, 16, 17, 33, 64]), k=st.integers(5, 31),
       seed=st.integers(0, 3))
def test_c_lookup_counts_exactly_the_numpy_hits(seqs, classes, k, seed):
    """Reads with N, reads shorter than k, empty reads and an empty list; 1 to 8-byte words."""
    index = random_index(classes, k, 10, seed)
    fast, reference = index.hits(seqs), index.hits_numpy(seqs)
    np.testing.assert_array_equal(fast[0], reference[0])
    np.testing.assert_array_equal(fast[1], reference[1])


@needs_c
def test_c_lookup_counts_exactly_the_numpy_hits_on_reads_of_the_shipped_index():
    from genotx.io import iter_batches

    index = KmerIndex.load(str(SHIPPED / "kmer_memory.safetensors"))
    seqs = next(iter_batches([str(READS)], batch_size=3000)).seqs
    fast, reference = index.hits(seqs), index.hits_numpy(seqs)
    assert fast[0].sum() > 0
    np.testing.assert_array_equal(fast[0], reference[0])
    np.testing.assert_array_equal(fast[1], reference[1])


def test_index_file_maps_its_words_read_only_and_loads_as_built(tmp_path):
    index = random_index(10, 11, 12, 0)
    path = tmp_path / "m.safetensors"
    index.save(str(path))
    before = path.read_bytes()
    loaded = KmerIndex.load(str(path))
    assert isinstance(loaded._bytes, np.memmap) and not loaded._words.flags.writeable
    with pytest.raises(ValueError):
        loaded._words[0] = 1
    np.testing.assert_array_equal(loaded.bit_matrix(), index.bit_matrix())
    np.testing.assert_array_equal(loaded.hit_score, index.hit_score)
    seqs = ["".join(np.random.default_rng(1).choice(list("ACGT"), size=150)) for _ in range(20)]
    np.testing.assert_array_equal(loaded.evidence(seqs), index.evidence(seqs))
    assert path.read_bytes() == before


def test_index_file_of_the_former_class_major_layout_still_loads(tmp_path):
    from safetensors.numpy import save_file

    index = random_index(5, 11, 12, 2)
    path = tmp_path / "old.safetensors"
    packed = np.packbits(np.ascontiguousarray(index.bit_matrix().T), axis=1)
    save_file({"bits": packed}, str(path), metadata={"config": json.dumps({"k": 11, "bits": 12, "novel": 0.3})})
    np.testing.assert_array_equal(KmerIndex.load(str(path)).bit_matrix(), index.bit_matrix())


@pytest.mark.parametrize("damage", ["cut", "header", "length", "nonzero-n-bucket", "config"])
def test_damaged_index_file_is_an_input_error_naming_it(tmp_path, damage):
    path = tmp_path / "m.safetensors"
    random_index(10, 11, 12, 0).save(str(path))
    data = bytearray(path.read_bytes())
    if damage == "cut":
        data = data[: len(data) - 100]
    elif damage == "header":
        data[8:20] = b"not json at!"
    elif damage == "length":
        data[:8] = (1 << 40).to_bytes(8, "little")
    elif damage == "nonzero-n-bucket":
        data[-1] = 1  # words are the last tensor: its last byte is in the N bucket
    else:
        data = data.replace(b'\\"k\\": 11', b'\\"k\\": 99')
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="m.safetensors"):
        KmerIndex.load(str(path))


def test_damaged_shipped_index_exits_2_with_one_line_and_no_output(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(SHIPPED, model)
    data = (model / "kmer_memory.safetensors").read_bytes()
    (model / "kmer_memory.safetensors").write_bytes(data[: len(data) // 3])
    proc = subprocess.run([sys.executable, "-m", "genotx", "predict", "--model", str(model), str(READS)],
                          capture_output=True)
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"kmer_memory.safetensors" in proc.stderr and b"Traceback" not in proc.stderr


probabilities = st.integers(1, 30).flatmap(lambda n: st.lists(
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.4999999, 1.0, 1e-7, 0.3333333]) | st.floats(0, 1), min_size=4,
             max_size=4), min_size=n, max_size=n))


@settings(max_examples=100, deadline=None)
@given(probs=probabilities, min_prob=st.sampled_from([0.0, 0.5, 0.3, 0.9999]), dtype=st.sampled_from(["f4", "f8"]),
       nan=st.booleans(), background=st.booleans())
def test_taxon_lines_are_the_formatted_taxon_rows(probs, min_prob, dtype, nan, background):
    probs = np.array(probs, dtype=dtype)
    if nan:
        probs[0, 1] = np.nan
    ids = [f"r{i}" for i in range(len(probs) - 1)] + ["odd\tid"]
    classes, taxids = ["A_a", "B_b", "C_c", "D\td"], [1, None, 0, 42]
    expected = format_rows(taxon_rows(ids, probs, classes, taxids, min_prob, background), len(COLUMNS))
    assert taxon_lines(ids, probs, classes, taxids, min_prob, background) == expected


needs_rows_c = pytest.mark.skipif(classifier._rows is None, reason="genotx.taxon._rows not built (no C compiler)")


@needs_rows_c
@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=40))
def test_c_rows_write_every_double_as_python_formats_it(values):
    """Any double (subnormal, negative, huge, inf, nan): the C text of the number is format(x, '.6g')."""
    probs = np.array([values, values[::-1]], dtype=np.float64).T.copy()
    n = len(values)
    first, second = np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    text = classifier._rows.taxon_text([f"r{i}" for i in range(n)], probs, first, second, probs[:, 0].copy(),
                                       ["a", "b"], ["1", "2"], float("-inf"), "unclassified")
    for row, (x, y) in zip(text.splitlines(), probs.tolist()):
        fields = row.split("\t")
        assert fields[3] == format(x, ".6g") and fields[6] == format(x, ".6g")
        assert fields[5] == format(y if fields[1] == "a" else x, ".6g")


@needs_rows_c
def test_c_rows_write_near_ties_and_exact_ties_as_python_rounds_them():
    """Values within 1e-6 of half a unit of the sixth digit are where the C path hands over to printf."""
    rng = np.random.default_rng(5)
    ties = (rng.integers(100000, 1000000, 20000) * 2 + 1) / 2.0 * 10.0 ** rng.integers(-12, 3, 20000)
    values = np.concatenate([ties, np.nextafter(ties, 0), np.nextafter(ties, 2), [0.5078125, 2.0 ** -20, 0.9999995]])
    probs = np.stack([values, values], axis=1)
    ids = [f"r{i}" for i in range(len(values))]
    top2 = np.zeros((len(values), 2), dtype=np.int64)
    top2[:, 1] = 1
    c_text = classifier._rows.taxon_text(ids, probs, top2[:, 0].copy(), top2[:, 1].copy(), None, ["a", "b"],
                                         ["1", "2"], 0.0, "unclassified")
    assert c_text == classifier._python_lines(ids, probs, top2, None, ["a", "b"], ["1", "2"], 0.0)


@settings(max_examples=150, deadline=None)
@given(probs=probabilities, min_prob=st.sampled_from([0.0, 0.5, 0.9999]), dtype=st.sampled_from(["f2", "f4", "f8"]),
       background=st.booleans(), tie=st.booleans(),
       odd_id=st.sampled_from(["plain", "tab\tin\nit", "caf\xe9", "\u0394elta", "\U0001F9EC"]))
def test_c_lines_are_the_python_lines(probs, min_prob, dtype, background, tie, odd_id):
    """Ties (the first species wins, as numpy ranks), half-precision probabilities, ids with tabs,
    Latin-1 and wider characters (those batches are formatted in Python)."""
    probs = np.array(probs, dtype=dtype)
    if tie:
        probs[0] = probs[0, 0]
    ids = [f"r{i}" for i in range(len(probs) - 1)] + [odd_id]
    classes, taxids = ["A_a", "B_b", "C\tc", "D\u00e9"], [1, None, 0, 42]
    fast = taxon_lines(ids, probs, classes, taxids, min_prob, background)
    assert fast == taxon_lines(ids, probs, classes, taxids, min_prob, background, use_c=False)
    assert fast == format_rows(taxon_rows(ids, probs, classes, taxids, min_prob, background), len(COLUMNS))


def test_ordered_map_keeps_input_order_for_any_number_of_workers():
    import time

    def slow_square(x):
        time.sleep(0.002 * (x % 3))  # later items finish first
        return x * x

    for workers in (1, 2, 3, 8):
        assert list(ordered_map(slow_square, range(40), workers=workers)) == [x * x for x in range(40)]


def test_ordered_map_yields_what_came_before_bad_input_then_raises():
    def items():
        yield from range(5)
        raise InputError("record 6: bad")

    seen = []
    with pytest.raises(InputError, match="record 6"):
        for value in ordered_map(lambda x: x, items(), workers=2):
            seen.append(value)
    assert seen == [0, 1, 2, 3, 4]


def test_shipped_model_text_is_the_same_for_any_thread_count_and_batch_size():
    from genotx.inference.predict import Predictor
    from genotx.io import iter_batches

    predictor = Predictor.load(str(SHIPPED), "taxon", min_prob=0.5)
    texts = set()
    for workers, batch in ((1, 4096), (2, 4096), (2, 1), (3, 777), (2, 10**6)):
        batches = iter_batches([str(READS)], batch_size=batch, quals=False)
        texts.add("".join(ordered_map(predictor.lines, batches, workers=workers)))
    assert len(texts) == 1 and next(iter(texts)).count("\n") > 1000
    rows = [predictor.rows(b) for b in iter_batches([str(READS)], quals=False)]
    assert texts == {"".join(format_rows(r, len(COLUMNS)) for r in rows)}


def test_predict_with_the_k_mer_memory_alone_never_imports_torch(tmp_path):
    """Start-up: torch is 2 s of it, and a network weight of 0 means the network never runs."""
    assert json.loads((SHIPPED / "config.json").read_text())["metadata"]["kmer_memory"]["weights"][0] == 0
    code = ("import sys\nfrom genotx.cli import app\n"
            f"try:\n    app(['-q', 'predict', '--task', 'taxon', {str(READS)!r}])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nprint('torch' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False" and proc.stdout.count("\n") > 1000


def test_predict_says_on_stderr_which_parts_made_the_calls_unless_quiet():
    run = [sys.executable, "-m", "genotx"]
    loud = subprocess.run(run + ["predict", "--task", "taxon", str(READS)], capture_output=True, text=True)
    quiet = subprocess.run(run + ["-q", "predict", "--task", "taxon", str(READS)], capture_output=True, text=True)
    assert "taxon calls by the k-mer memory alone (network weight 0" in loud.stderr
    assert quiet.stderr == "" and quiet.stdout.splitlines()[1:] == loud.stdout.splitlines()[1:]
