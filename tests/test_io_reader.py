"""The FASTA/FASTQ reader against a simple line-by-line reference, on real data slices."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import sys
import zlib

import pytest
from conftest import DATA, REPO

from genotx.errors import InputError
from genotx.io import iter_batches, iter_records, normalise, revcomp, source

READS = [DATA / "io_SRR059298_200.fq.gz", DATA / "io_ERR127302_200.fq.gz"]
GENOMES = [DATA / "io_phix174.fa.gz", DATA / "io_dwv.fa.gz", DATA / "io_16s_20.fa.gz"]
# The empty final block that bgzip appends to every file.
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def reference_normal(seq: str) -> str:
    seq = seq.upper().replace("U", "T")
    return "".join("N" if c in "RYSWKMBDHV" else c for c in seq)


def reference_fastq(text: str) -> list[tuple[str, str, str]]:
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    out = []
    for i in range(0, len(lines), 4):
        head, seq, plus, qual = lines[i : i + 4]
        assert head.startswith("@") and plus.startswith("+") and len(seq) == len(qual)
        out.append((head[1:].split()[0], reference_normal(seq), qual))
    return out


def reference_fasta(text: str) -> list[tuple[str, str, None]]:
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(">"):
            out.append([line[1:].split()[0], ""])
        elif line.strip():
            out[-1][1] += line.strip()
    return [(rid, reference_normal(seq), None) for rid, seq in out]


def read_bytes(data: bytes, tmp_path, name: str = "in") -> list[tuple]:
    path = tmp_path / name
    path.write_bytes(data)
    return [tuple(r) for r in iter_records([str(path)])]


def bgzip_like(data: bytes, block: int = 5000) -> bytes:
    """Many independent gzip members, as bgzip writes them, plus its empty EOF member."""
    members = [gzip.compress(data[i : i + block], mtime=0) for i in range(0, len(data), block)]
    return b"".join(members) + BGZF_EOF


@pytest.mark.parametrize("path", READS, ids=lambda p: p.name)
def test_real_fastq_reads_match_the_line_by_line_reference(path):
    expected = reference_fastq(gzip.decompress(path.read_bytes()).decode())
    assert len(expected) == 200
    assert [tuple(r) for r in iter_records([str(path)])] == expected


@pytest.mark.parametrize("path", GENOMES, ids=lambda p: p.name)
def test_real_multiline_fasta_matches_the_reference(path):
    expected = reference_fasta(gzip.decompress(path.read_bytes()).decode())
    assert [tuple(r) for r in iter_records([str(path)])] == expected


def test_phix_and_dwv_genomes_have_their_published_lengths():
    lengths = {r.id: len(r.seq) for p in GENOMES[:2] for r in iter_records([str(p)])}
    assert lengths["phix"] == 5386
    assert lengths["gi|71480055|ref|NC_004830.2|"] == 10140


@pytest.mark.parametrize("path", [READS[0], GENOMES[0]], ids=["fastq", "fasta"])
def test_plain_gzip_and_multi_member_bgzip_give_the_same_records(path, tmp_path):
    plain = gzip.decompress(path.read_bytes())
    expected = read_bytes(plain, tmp_path, "plain")
    assert read_bytes(gzip.compress(plain, compresslevel=9), tmp_path, "gz") == expected
    assert read_bytes(bgzip_like(plain), tmp_path, "bgz") == expected


@pytest.mark.parametrize("path", [READS[0], GENOMES[1]], ids=["fastq", "fasta"])
def test_records_do_not_depend_on_where_the_input_is_cut(path, tmp_path, monkeypatch):
    data = gzip.decompress(path.read_bytes())
    expected = read_bytes(data, tmp_path)
    for piece in (1, 7, 61, 997):
        monkeypatch.setattr(source, "PIECE", piece)
        assert read_bytes(data, tmp_path, "plain") == expected, piece
        assert read_bytes(bgzip_like(data, 777), tmp_path, "bgz") == expected, piece


def test_stdin_through_a_real_pipe_gives_the_same_records_as_the_file():
    code = "import sys; from genotx.io import iter_records; sys.stdout.write(repr([tuple(r) for r in iter_records(['-'])]))"
    for path in (READS[1], GENOMES[0]):
        cat = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
        got = subprocess.run([sys.executable, "-c", code], stdin=cat.stdout, capture_output=True, cwd=REPO, timeout=60)
        cat.stdout.close()
        cat.wait()
        assert got.returncode == 0, got.stderr
        assert got.stdout.decode() == repr([tuple(r) for r in iter_records([str(path)])])


def test_windows_line_endings_give_the_same_records(tmp_path):
    for path in (READS[0], GENOMES[0]):
        data = gzip.decompress(path.read_bytes())
        assert read_bytes(data.replace(b"\n", b"\r\n"), tmp_path, "crlf") == read_bytes(data, tmp_path)


def test_lowercase_u_and_iupac_codes_are_normalised(tmp_path):
    data = gzip.decompress(GENOMES[0].read_bytes()).decode()
    header, _, body = data.partition("\n")
    (expected,) = read_bytes(data.encode(), tmp_path)
    lower = header + "\n" + body.lower()
    assert read_bytes(lower.encode(), tmp_path, "lower") == [expected]
    rna = header + "\n" + body.replace("T", "U").replace("G", "g")
    assert read_bytes(rna.encode(), tmp_path, "rna") == [expected]
    rng = random.Random(0)
    codes = list(body)
    for i in rng.sample([i for i, c in enumerate(codes) if c != "\n"], 200):
        codes[i] = rng.choice("RYSWKMBDHVrysWkmbdhv")
    (iupac,) = read_bytes((header + "\n" + "".join(codes)).encode(), tmp_path, "iupac")
    assert iupac[1] == reference_normal("".join(codes).replace("\n", ""))
    assert iupac[1].count("N") == 200 and set(iupac[1]) <= set("ACGTN")


def test_fastq_normalisation_keeps_qualities_unchanged(tmp_path):
    data = b"@r1 x\nacgtuRYn\n+\nIIII##!~\n"
    assert read_bytes(data, tmp_path) == [("r1", "ACGTTNNN", "IIII##!~")]


def test_batches_hold_at_most_batch_size_consecutive_records():
    batches = list(iter_batches([str(READS[0])], batch_size=64))
    assert [len(b) for b in batches] == [64, 64, 64, 8]
    assert [b.first for b in batches] == [1, 65, 129, 193]
    assert all(len(b.seqs) == len(b.quals) == len(b.ids) for b in batches)


def test_several_inputs_are_read_in_a_row_each_numbered_from_one():
    batches = list(iter_batches([str(GENOMES[0]), str(READS[0]), str(GENOMES[2])]))
    assert [(b.source, b.first, len(b), b.quals is None) for b in batches] == [
        (str(GENOMES[0]), 1, 1, True),
        (str(READS[0]), 1, 200, False),
        (str(GENOMES[2]), 1, 20, True),
    ]


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", gzip.compress(b""), gzip.compress(b"\n")], ids=["empty", "blank", "gz", "gz-blank"])
def test_empty_input_has_no_records(data, tmp_path):
    assert read_bytes(data, tmp_path) == []


def test_trailing_blank_lines_are_accepted(tmp_path):
    assert read_bytes(b"@r\nAC\n+\nII\n\n\n\n\n\n", tmp_path) == [("r", "AC", "II")]
    assert read_bytes(b"\n\n>r\nAC\n\nGT\n\n", tmp_path) == [("r", "ACGT", None)]


def test_ids_end_at_the_first_space_or_tab(tmp_path):
    data = b"@a b c\nA\n+\nI\n@d\te\nA\n+\nI\n@f\nA\n+f again\nI\n"
    assert [r[0] for r in read_bytes(data, tmp_path)] == ["a", "d", "f"]


ERRORS = {
    "not a sequence file": (b"id\tvalue\n", "not FASTA or FASTQ"),
    "fasta sequence before header": (b"\nACGT\n>r1\nAC\n", "not FASTA or FASTQ"),
    "missing plus line": (b"@r1\nAC\n+\nII\n@r2\nACGT\nIIII\n@r3\nA\n+\nI\n", "record 2 ('r2'): third line must start with '+'"),
    "quality length": (b"@r1\nACGT\n+\nIII\n", "record 1 ('r1'): quality length 3 differs from sequence length 4"),
    "truncated record": (b"@r1\nAC\n+\nII\n@r2\nAC\n", "record 2 ('r2'): truncated FASTQ record"),
    "empty fastq sequence": (b"@r1\n\n+\n\n@r2\nA\n+\nI\n", "record 1 ('r1'): empty sequence"),
    "empty fasta sequence": (b">r1\n>r2\nAC\n", "record 1 ('r1'): empty sequence"),
    "invalid character": (b">r1\nACGT\nAC-GT\n", "record 1 ('r1'): invalid character '-' at position 7"),
    "space in sequence": (b"@r1\nAC GT\n+\nIIIII\n", "invalid character ' ' at position 3"),
    "binary garbage": (b"@r1\nAC\x00\xff\n+\nIIII\n", "record 1 ('r1'): invalid character byte 0x00"),
    "quality out of range": (b"@r1\nACGT\n+\nII I\n", "quality string has character ' '"),
    "header without at": (b"@r1\nA\n+\nI\nr2\nA\n+\nI\n", "record 2: expected a FASTQ header starting with '@'"),
    "blank line inside fastq": (b"@r1\nA\n+\nI\n\n@r2\nA\n+\nI\n", "record 2: expected a FASTQ header starting with '@', got a blank line"),
    "empty name": (b"> desc\nACGT\n", "record 1: empty record name"),
    "control byte in plus line": (b"@r1\nACGT\n+r1\x01\nIIII\n", "record 1 ('r1'): '+' line contains control"),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_malformed_input_names_the_file_record_and_problem(case, tmp_path):
    data, message = ERRORS[case]
    for name, payload in (("in.txt", data), ("in.gz", gzip.compress(data))):
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(InputError) as err:
            list(iter_records([str(path)]))
        assert str(err.value).startswith(f"{path}: ")
        assert message in str(err.value)


def test_gzip_damage_is_reported(tmp_path):
    data = gzip.compress(gzip.decompress(READS[0].read_bytes()))
    cases = {
        "truncated gzip file": data[: len(data) // 2],
        "corrupt gzip data": data[:-8] + bytes(8),
        "trailing garbage after gzip data": data + b"garbage",
    }
    for message, payload in cases.items():
        path = tmp_path / "bad.gz"
        path.write_bytes(payload)
        with pytest.raises(InputError, match=message):
            list(iter_records([str(path)]))


@pytest.mark.parametrize("lib", ["zlib", "isal"])
def test_zlib_and_isal_inflate_multi_member_input_identically(lib):
    module = zlib if lib == "zlib" else pytest.importorskip("isal.isal_zlib")
    plain = gzip.decompress(READS[0].read_bytes())
    packed = bgzip_like(plain, 3000) + bytes(32)  # zero padding after the last member is tolerated
    assert b"".join(source.inflate(io.BytesIO(packed[5:]), packed[:5], "x", lib=module)) == plain
    with pytest.raises(InputError, match="truncated gzip"):
        b"".join(source.inflate(io.BytesIO(packed[5:-100]), packed[:5], "x", lib=module))


def test_missing_file_and_directory_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_records([str(tmp_path / "absent.fq")]))
    with pytest.raises(InputError, match="is a directory"):
        list(iter_records([str(tmp_path)]))


def test_normalise_and_revcomp_examples():
    assert normalise("acgUR") == "ACGTN"
    assert normalise("AC-G") is None
    assert revcomp("AACGN") == "NCGTT"
    assert revcomp(revcomp("GATTACA")) == "GATTACA"
