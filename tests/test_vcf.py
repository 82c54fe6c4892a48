"""VCF in and out of predict --task variant: plain and bgzip read alike, REF checked, multi-allelic records
split, and the VCF written back is one that bcftools reads."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, genotx_env, run_genotx, tsv_rows
from model_dirs import esm_nt_dir, genotx_dir

from genotx.errors import InputError
from genotx.io.vcf import VcfReader, VcfRecord, VcfWriter, looks_like_vcf

RNG = np.random.default_rng(11)
CHR1 = "".join(RNG.choice(list("ACGT"), 400))
CHR2 = "".join(RNG.choice(list("ACGT"), 300))
NEXT = {"A": "C", "C": "G", "G": "T", "T": "A"}
HEADER = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=400>", "##contig=<ID=chr2,length=300>",
          '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
RECORDS = [
    f"chr1\t100\trs1\t{CHR1[99]}\t{NEXT[CHR1[99]]}\t50\tPASS\tDP=10",
    f"chr1\t150\t.\t{CHR1[149]}\t{NEXT[CHR1[149]]},{NEXT[NEXT[CHR1[149]]]}\t.\t.\t.",
    f"chr1\t200\tdel1\t{CHR1[199:202]}\t{CHR1[199]}\t.\t.\t.",
    f"chr2\t50\tins1\t{CHR2[49]}\t{CHR2[49]}GA\t.\t.\t.",
    f"chr2\t60\twrong\t{NEXT[CHR2[59]]}\t{CHR2[59]}\t.\t.\t.",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vcf")
    (root / "ref.fa").write_text(f">chr1\n{CHR1}\n>chr2\n{CHR2}\n")
    text = "\n".join(HEADER + RECORDS) + "\n"
    (root / "calls.vcf").write_text(text)
    bgzip = shutil.which("bgzip")
    if bgzip:
        with open(root / "calls.vcf.gz", "wb") as out:
            subprocess.run([bgzip, "-c", str(root / "calls.vcf")], stdout=out, check=True)
    else:
        (root / "calls.vcf.gz").write_bytes(gzip.compress(text.encode()))
    return {"root": root, "ref": str(root / "ref.fa"), "vcf": str(root / "calls.vcf"), "bgz": str(root / "calls.vcf.gz"),
            "esm": esm_nt_dir(root / "esm"), "mlm": genotx_dir(root / "mlm")}


def test_plain_and_bgzip_vcf_read_alike_and_split_multi_allelic_records(files):
    assert looks_like_vcf(files["vcf"]) and looks_like_vcf(files["bgz"]) and not looks_like_vcf(files["ref"])
    plain, packed = VcfReader(files["vcf"]), VcfReader(files["bgz"])
    assert plain.header == packed.header == HEADER
    records = list(plain)
    assert [r.fields for r in records] == [r.fields for r in packed]
    assert records[1].alleles() == [("chr1:150.1", NEXT[CHR1[149]]), ("chr1:150.2", NEXT[NEXT[CHR1[149]]])]
    assert records[0].alleles() == [("rs1", NEXT[CHR1[99]])] and records[0].number == 6


def test_writer_declares_its_info_field_once_and_keeps_everything_else(files):
    reader = VcfReader(files["vcf"])
    out = io.StringIO()
    records = list(reader)
    with VcfWriter(out, reader.header, "SCORE", "a test score") as writer:
        writer.write(records, [[0.25] * len(r.alts) for r in records])
    lines = out.getvalue().splitlines()
    assert lines.count('##INFO=<ID=SCORE,Number=A,Type=Float,Description="a test score">') == 1
    assert lines.index('##INFO=<ID=SCORE,Number=A,Type=Float,Description="a test score">') == 4  # after the other INFO
    assert lines[6].endswith("\tDP=10;SCORE=0.25") and lines[7].endswith("\tSCORE=0.25,0.25")
    again = io.StringIO()  # written twice over: one SCORE field, the last value
    with VcfWriter(again, lines[:6], "SCORE", "a test score") as writer:
        writer.write([VcfRecord(6, tuple(lines[6].split("\t")))], [[0.5]])
    assert again.getvalue().count("SCORE=") == 1 and again.getvalue().rstrip().endswith("DP=10;SCORE=0.5")


def test_malformed_vcf_lines_name_the_line(tmp_path):
    path = tmp_path / "bad.vcf"
    path.write_text("\n".join(HEADER + ["chr1\tten\t.\tA\tC\t.\t.\t."]) + "\n")
    with pytest.raises(InputError, match=r"bad.vcf: line 6: POS 'ten'"):
        list(VcfReader(str(path)))
    path.write_text("##fileformat=VCFv4.2\nchr1\t1\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputError, match="no #CHROM line"):
        VcfReader(str(path))


def test_vcf_scores_equal_tsv_scores_and_mismatched_ref_is_na_with_a_warning(files):
    vcf = run_genotx("predict", "--task", "variant", "--model", files["esm"], "--reference", files["ref"],
                     "--precision", "fp32", files["bgz"])
    assert vcf.returncode == 0, vcf.stderr.decode()
    rows = tsv_rows(vcf.stdout)
    assert [r[0] for r in rows] == ["rs1", "chr1:150.1", "chr1:150.2", "del1", "ins1", "wrong"]
    assert rows[-1][5] == "NA" and all(r[5] != "NA" for r in rows[:-1])
    warning = vcf.stderr.decode()
    assert "line 10 ('wrong')" in warning and "does not match the reference" in warning
    tsv = "chrom\tpos\tref\talt\n" + "".join(f"{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\n" for r in rows[:-1])
    table = run_genotx("predict", "--task", "variant", "--model", files["esm"], "--reference", files["ref"],
                       "--precision", "fp32", "-", stdin=tsv.encode())
    assert table.returncode == 0, table.stderr.decode()
    np.testing.assert_allclose([float(r[5]) for r in tsv_rows(table.stdout)], [float(r[5]) for r in rows[:-1]], atol=1e-5)


def test_strict_makes_a_ref_mismatch_exit_2_without_output(files):
    proc = run_genotx("predict", "--task", "variant", "--model", files["esm"], "--reference", files["ref"], "--strict",
                      files["vcf"])
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode().startswith("genotx: error:") and "'wrong'" in proc.stderr.decode()


def test_a_tsv_ref_mismatch_warns_and_scores_na_or_exits_2_with_strict_as_in_a_vcf(files):
    table = ("id\tchrom\tpos\tref\talt\n"
             f"ok\tchr1\t100\t{CHR1[99]}\t{NEXT[CHR1[99]]}\n"
             f"wrong\tchr2\t60\t{NEXT[CHR2[59]]}\t{CHR2[59]}\n"  # the VCF's 'wrong' record, as a TSV row
             "elsewhere\tchr9\t5\tA\tC\n").encode()
    args = ["predict", "--task", "variant", "--model", files["esm"], "--reference", files["ref"], "--precision", "fp32"]
    lenient = run_genotx(*args, "-", stdin=table)
    assert lenient.returncode == 0, lenient.stderr.decode()
    scores = {r[0]: r[5] for r in tsv_rows(lenient.stdout)}
    assert scores["wrong"] == scores["elsewhere"] == "NA" and scores["ok"] != "NA"
    vcf = tsv_rows(run_genotx(*args, files["vcf"]).stdout)
    assert vcf[0][5] == scores["ok"] and vcf[-1][5] == "NA"  # the same variants score the same from a VCF
    warnings = lenient.stderr.decode().splitlines()
    assert any("line 3 ('wrong')" in w and "does not match" in w and "score NA" in w for w in warnings), warnings
    assert any("line 4 ('elsewhere')" in w and "'chr9' is not in the reference" in w for w in warnings), warnings
    strict = run_genotx(*args, "--strict", "-", stdin=table)
    message = strict.stderr.decode()
    assert strict.returncode == 2 and strict.stdout == b"" and len(message.strip().splitlines()) == 1
    assert message.startswith("genotx: error:") and "'wrong'" in message and "does not match" in message


def test_genotx_mlm_substitution_scores_are_those_of_the_masked_marginal_before(files):
    from genotx.models import load_checkpoint
    from genotx.tasks.variant import load_reference, load_variants
    from genotx.inference.variant import score_variants

    proc = run_genotx("predict", "--task", "variant", "--model", files["mlm"], "--reference", files["ref"],
                      "--window", "64", files["vcf"])
    rows = tsv_rows(proc.stdout)[:3]
    (files["root"] / "snv.tsv").write_text("chrom\tpos\tref\talt\n" + "".join(f"{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\n" for r in rows))
    model, tokenizer, _ = load_checkpoint(files["mlm"])
    variants = load_variants(str(files["root"] / "snv.tsv"), load_reference(files["ref"]))
    want = score_variants(model, tokenizer, variants, window=64)
    np.testing.assert_allclose([float(r[5]) for r in rows], want, atol=1e-4)


@pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not installed")
def test_output_vcf_round_trip_is_read_by_bcftools(files):
    out = files["root"] / "scored.vcf"
    proc = subprocess.run(f"cat {files['bgz']} | {sys.executable} -m genotx predict --task variant --model {files['esm']} "
                          f"--reference {files['ref']} --precision fp32 --output-vcf --info-field ESM_LLR - > {out}",
                          shell=True, capture_output=True, env=genotx_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()
    query = subprocess.run(["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%INFO/ESM_LLR\t%INFO/DP\n", str(out)],
                           capture_output=True, check=True)
    lines = [line.split("\t") for line in query.stdout.decode().splitlines()]
    assert [(c, int(p)) for c, p, *_ in lines] == [("chr1", 100), ("chr1", 150), ("chr1", 200), ("chr2", 50), ("chr2", 60)]
    assert len(lines[1][4].split(",")) == 2 and lines[4][4] == "." and lines[0][5] == "10"
    header = subprocess.run(["bcftools", "view", "-h", str(out)], capture_output=True, check=True).stdout.decode()
    assert '##INFO=<ID=ESM_LLR,Number=A,Type=Float' in header
    body = subprocess.run(["bcftools", "view", "-H", str(out)], capture_output=True, check=True).stdout.decode()
    assert [line.split("\t")[:5] for line in body.splitlines()] == [r.split("\t")[:5] for r in RECORDS]
    tsv = run_genotx("predict", "--task", "variant", "--model", files["esm"], "--reference", files["ref"],
                     "--precision", "fp32", files["vcf"])
    scores = [r[5] for r in tsv_rows(tsv.stdout)]
    assert lines[0][4] == scores[0] and lines[1][4] == f"{scores[1]},{scores[2]}"


def test_output_vcf_needs_one_vcf_input_and_vcf_needs_a_reference(files):
    proc = run_genotx("predict", "--task", "variant", "--model", files["esm"], "--output-vcf", "-",
                      stdin=b"sequence\tpos\talt\nACGTACGT\t2\tA\n")
    assert proc.returncode == 2 and b"--output-vcf" in proc.stderr
    proc = run_genotx("predict", "--task", "variant", "--model", files["esm"], files["vcf"])
    assert proc.returncode == 2 and b"--reference" in proc.stderr
