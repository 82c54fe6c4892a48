"""Numpy core of `genotx motifs`: PFMs, information content, discovery, matching, MEME, logos, head scores."""

import io

import numpy as np
import pytest

from genotx.motifs import jaspar
from genotx.motifs.compare import TargetSet, benjamini_hochberg, match, similarity
from genotx.motifs.discover import discover, find_peaks
from genotx.motifs.heads import HeadScores, cpg_mask, inverted_repeat_pairs, periodicity
from genotx.motifs.logo import column_heights, write_logo
from genotx.motifs.meme import MemeMotif, read_meme, write_meme
from genotx.motifs.pfm import (
    attention_weighted_pfm, background, consensus, encode, information_content, one_hot, revcomp_pfm,
)

RNG = np.random.default_rng(7)


def _random_pfm(width, rng=RNG, sharp=0.3):
    return rng.dirichlet(np.full(4, sharp), size=width)


@pytest.fixture(scope="module")
def vertebrates():
    return jaspar.load("JASPAR2024", "CORE", "vertebrates")


def test_information_content_of_uniform_column_is_zero_and_of_one_hot_is_two_bits():
    assert information_content(np.full((1, 4), 0.25))[0] == pytest.approx(0.0, abs=1e-12)
    assert information_content(np.eye(4)) == pytest.approx([2.0] * 4)


def test_information_content_uses_the_given_background():
    # under a GC-rich background a pure-A column carries more than 2 bits: log2(1 / 0.1)
    q = np.array([0.1, 0.4, 0.4, 0.1])
    assert information_content(np.array([[1.0, 0, 0, 0]]), q)[0] == pytest.approx(np.log2(10))
    # and the background itself carries nothing
    assert information_content(q[None, :], q)[0] == pytest.approx(0.0, abs=1e-12)


def test_background_is_the_base_composition_ignoring_n():
    assert background(["AACN", "GT"]) == pytest.approx([0.4, 0.2, 0.2, 0.2], abs=1e-5)


def test_one_hot_rows_are_bases_and_n_is_empty():
    m = one_hot("ACGTN")
    assert m[:4] == pytest.approx(np.eye(4))
    assert m[4].sum() == 0
    assert list(encode("ACGTN")) == [0, 1, 2, 3, 4]


def test_revcomp_pfm_twice_is_identity_and_matches_revcomp_sequence():
    pfm = _random_pfm(7)
    assert revcomp_pfm(revcomp_pfm(pfm)) == pytest.approx(pfm)
    assert revcomp_pfm(one_hot("AACGT")) == pytest.approx(one_hot("ACGTT"))


def test_consensus_uses_iupac_codes_for_two_base_columns():
    pfm = np.array([[1, 0, 0, 0], [0.5, 0, 0.5, 0], [0.25] * 4, [0, 0, 0, 1.0]])
    assert consensus(pfm) == "ARNT"


def test_attention_weighted_pfm_equals_explicit_weighted_sum():
    seq = "GATTACAGGC"
    attn = RNG.dirichlet(np.ones(len(seq)), size=len(seq))
    got = attention_weighted_pfm(attn, one_hot(seq))
    ref = np.zeros((len(seq), 4))
    for i in range(len(seq)):
        for j, base in enumerate(seq):
            ref[i, "ACGT".index(base)] += attn[i, j]
    assert got == pytest.approx(ref, abs=1e-12)
    assert got.sum(axis=1) == pytest.approx(np.ones(len(seq)))


def test_similarity_of_a_motif_with_itself_and_its_reverse_complement_is_one():
    pfm = _random_pfm(10)
    assert similarity(pfm, pfm)[0] == pytest.approx(1.0)
    score, offset, strand = similarity(pfm, revcomp_pfm(pfm))
    assert score == pytest.approx(1.0) and strand == "-" and offset == 0


def test_fast_matcher_agrees_with_reference_similarity_on_every_target():
    targets = [_random_pfm(w) for w in (4, 8, 12, 19)]
    query = _random_pfm(9)
    found = {m.target: m for m in match(query, TargetSet(targets), n_shuffles=5)}
    for j, t in enumerate(targets):
        score, offset, strand = similarity(query, t)
        assert found[j].similarity == pytest.approx(score, abs=1e-9)
        assert (found[j].offset, found[j].strand) == (offset, strand)


def test_jaspar_motif_is_its_own_top_match_on_both_strands(vertebrates):
    targets = TargetSet([m.counts for m in vertebrates])
    ctcf = next(j for j, m in enumerate(vertebrates) if m.matrix_id.startswith("MA0139"))
    pfm = vertebrates[ctcf].counts / vertebrates[ctcf].counts.sum(axis=1, keepdims=True)
    for query, strand in ((pfm, "+"), (revcomp_pfm(pfm), "-")):
        matches = match(query, targets, n_shuffles=100)
        # the top hits are CTCF matrices (a longer CTCF matrix containing this one may come first)
        assert vertebrates[matches[0].target].name == "CTCF"
        own = next(m for m in matches if m.target == ctcf)
        assert own.similarity == pytest.approx(1.0, abs=1e-9)
        assert own.strand == strand and own.offset == 0
        assert own.q_value < 0.05 and matches.index(own) < 3


def test_jaspar_loader_takes_latest_versions_of_the_chosen_group(vertebrates):
    ids = [m.matrix_id for m in vertebrates]
    assert len(ids) == len({i.split(".")[0] for i in ids})  # one version per matrix
    assert "MA0139.2" in ids and "MA0139.1" not in ids
    insects = jaspar.load("JASPAR2024", "CORE", "insects")
    assert not {m.matrix_id for m in insects} & set(ids)
    for m in vertebrates[:20]:
        assert m.counts.shape[1] == 4 and (m.counts >= 0).all()


def test_jaspar_unknown_release_is_an_input_error():
    from genotx.errors import InputError

    with pytest.raises(InputError, match="JASPAR1999"):
        jaspar.load("JASPAR1999")


def test_benjamini_hochberg_matches_hand_computed_values():
    assert benjamini_hochberg([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.04, 0.04])
    assert benjamini_hochberg([0.5, 0.9]) == pytest.approx([0.9, 0.9])


def test_shuffled_query_is_not_significant(vertebrates):
    # a query of weak random columns should rarely match anything at q < 0.05
    rng = np.random.default_rng(3)
    query = rng.dirichlet(np.full(4, 5.0), size=8)
    best = match(query, TargetSet([m.counts for m in vertebrates]), n_shuffles=30, seed=1)[0]
    assert best.q_value > 0.05


def test_meme_output_parses_back_to_the_same_motifs():
    motifs = [MemeMotif("motif1", _random_pfm(8), 17, "L2H3"), MemeMotif("motif2", _random_pfm(12), 5)]
    buf = io.StringIO()
    write_meme(motifs, buf, background=(0.3, 0.2, 0.2, 0.3))
    back = read_meme(io.StringIO(buf.getvalue()))
    assert [m.name for m in back] == ["motif1", "motif2"]
    assert [m.n_sites for m in back] == [17, 5]
    assert back[0].description == "L2H3"
    for a, b in zip(motifs, back):
        assert b.pfm == pytest.approx(a.pfm, abs=1e-6)


def test_meme_parser_rejects_short_rows():
    from genotx.errors import InputError

    text = "MEME version 4\n\nMOTIF x\nletter-probability matrix: alength= 4 w= 2\n 0.5 0.5 0 0\n 1 0 0\n"
    with pytest.raises(InputError, match="4 probabilities"):
        read_meme(io.StringIO(text))


def test_logo_is_a_png_and_letter_heights_sum_to_column_ic(tmp_path):
    pfm = _random_pfm(6)
    heights = column_heights(pfm)
    assert heights.sum(axis=1) == pytest.approx(information_content(pfm))
    out = tmp_path / "m.png"
    write_logo(str(out), pfm, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "m.png"]  # no temp file left


def _plant(n, length, site, rng, fraction=1.0):
    seqs, scores = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        score = rng.random(length) * 0.2 + 1.0
        if rng.random() < fraction:
            pos = int(rng.integers(5, length - len(site) - 5))
            planted = site if rng.random() < 0.5 else site[::-1].translate(str.maketrans("ACGT", "TGCA"))
            s[pos: pos + len(site)] = planted
            score[pos + len(site) // 2] += 5.0  # attention peaks at the site's centre, give or take
        seqs.append("".join(s))
        scores.append(score)
    return seqs, scores


def test_find_peaks_returns_the_planted_maxima_best_first():
    scores = [np.ones(50), np.ones(50)]
    scores[0][10], scores[1][30] = 9.0, 5.0
    peaks = find_peaks(scores, min_ratio=2.0)
    assert [(i, p) for i, p, _ in peaks] == [(0, 10), (1, 30)]


def test_discovery_recovers_a_planted_site_on_both_strands():
    rng = np.random.default_rng(11)
    site = "CCACCAGGGGGCGC"  # CTCF core, planted in either orientation
    seqs, scores = _plant(120, 100, site, rng)
    motif = discover(seqs, scores)
    assert motif is not None and motif.n_sites >= 100
    cons = motif.consensus
    rc = cons[::-1].translate(str.maketrans("ACGTMRWSYKN", "TGCAKYWSRMN"))
    assert site[2:12] in cons or site[2:12] in rc
    assert motif.ic_total > 15
    # sites point at the planted bases
    for i, start, strand in motif.sites[:20]:
        word = seqs[i][start: start + motif.width]
        assert len(word) == motif.width


def test_discovered_planted_site_matches_ctcf_first(vertebrates):
    rng = np.random.default_rng(5)
    ctcf = next(m for m in vertebrates if m.matrix_id.startswith("MA0139"))
    pfm = ctcf.counts / ctcf.counts.sum(axis=1, keepdims=True)
    seqs, scores = [], []
    for _ in range(150):
        s = list(rng.choice(list("ACGT"), size=120))
        site = "".join("ACGT"[rng.choice(4, p=col)] for col in pfm)
        pos = int(rng.integers(10, 120 - len(site) - 10))
        s[pos: pos + len(site)] = site
        sc = np.ones(120) + rng.random(120) * 0.2
        sc[pos + 9] += 4
        seqs.append("".join(s))
        scores.append(sc)
    motif = discover(seqs, scores)
    best = match(motif.pfm, TargetSet([m.counts for m in vertebrates]), n_shuffles=30)[0]
    assert vertebrates[best.target].name == "CTCF"


def test_discovery_without_peaks_finds_nothing():
    assert discover(["ACGT" * 10], [np.ones(40)]) is None


def test_cpg_mask_marks_both_bases_of_each_cg():
    assert list(cpg_mask(encode("ACGTCG"))) == [False, True, True, False, True, True]


def test_inverted_repeat_pairs_reference():
    seq = "GAATTCAAAGAATTCA"
    codes = encode(seq)
    k = 4
    pairs = inverted_repeat_pairs(codes, k)
    rc = lambda s: s[::-1].translate(str.maketrans("ACGT", "TGCA"))  # noqa: E731
    for i in range(len(seq)):
        for j in range(len(seq)):
            a, b = min(i, j), max(i, j)
            want = b - a >= 2 * k - 1 and b - k + 1 >= 0 and a + k <= len(seq) and seq[a: a + k] == rc(seq[b - k + 1: b + 1])
            assert pairs[i, j] == want, (i, j)


def test_head_scores_detect_cpg_palindrome_and_period_heads():
    rng = np.random.default_rng(2)
    cpg, pal, per, flat = HeadScores(), HeadScores(), HeadScores(), HeadScores()
    for _ in range(10):
        seq = "".join(rng.choice(list("ACGT"), size=160))
        codes = encode(seq)
        n = len(codes)
        uniform = np.full((n, n), 1.0 / n)
        mask = cpg_mask(codes)
        to_cg = np.tile(mask / max(mask.sum(), 1), (n, 1)) if mask.any() else uniform
        pairs = inverted_repeat_pairs(codes).astype(float) + 1e-3
        d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
        wave = 1.0 + np.cos(2 * np.pi * d / 10.0)
        cpg.add(to_cg, codes)
        pal.add(pairs / pairs.sum(1, keepdims=True), codes)
        per.add(wave / wave.sum(1, keepdims=True), codes)
        flat.add(uniform, codes)
    assert cpg.result()["cpg_focus"] > 5
    assert pal.result()["palindrome_symmetry"] > 5
    assert per.result()["periodicity_10bp"] > 5
    base = flat.result()
    assert base["cpg_focus"] == pytest.approx(1.0)
    assert base["palindrome_symmetry"] == pytest.approx(1.0, rel=0.05)


def test_periodicity_of_noise_is_near_one_and_of_a_ten_bp_wave_is_large():
    rng = np.random.default_rng(0)
    noise = np.mean([periodicity(rng.normal(size=100)) for _ in range(50)])
    assert 0.5 < noise < 2.0
    assert periodicity(np.cos(2 * np.pi * np.arange(1, 101) / 10)) > 10
