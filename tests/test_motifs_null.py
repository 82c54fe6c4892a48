"""The random-window null of `genotx motifs` and the adaptive JASPAR shuffles, on inputs whose answer is known."""

from itertools import product

import numpy as np
import pytest
from scipy.stats import binom

from genotx.motifs import jaspar
from genotx.motifs.compare import MIN_EXCEED, TargetSet, match
from genotx.motifs.discover import discover
from genotx.motifs.null import selection_null, site_threshold, upper_tail
from genotx.motifs.pfm import encode


@pytest.fixture(scope="module")
def vertebrates():
    return jaspar.load("JASPAR2024", "CORE", "vertebrates")


def _pfm(database, name):
    m = next(x for x in database if x.name == name)
    return m.counts / m.counts.sum(axis=1, keepdims=True)


def _planted(pfm, n, length, rng):
    """Random sequences, each with one site sampled from ``pfm`` (random strand); the sites' starts."""
    seqs, starts = [], []
    for _ in range(n):
        seq = list(rng.choice(list("ACGT"), size=length))
        site = "".join("ACGT"[rng.choice(4, p=col)] for col in pfm)
        if rng.random() < 0.5:
            site = site[::-1].translate(str.maketrans("ACGT", "TGCA"))
        pos = int(rng.integers(0, length - len(site) + 1))
        seq[pos: pos + len(site)] = site
        seqs.append("".join(seq))
        starts.append(pos)
    return seqs, starts


def test_upper_tail_is_the_binomial_tail_when_every_window_has_the_same_chance():
    for n, p, k in [(10, 0.3, 0), (10, 0.3, 4), (50, 0.02, 5), (200, 0.5, 150)]:
        assert upper_tail(np.full(n, p), k) == pytest.approx(binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)
    assert upper_tail(np.array([0.2, 0.9, 0.5]), 3) == pytest.approx(0.2 * 0.9 * 0.5)
    assert upper_tail(np.full(2000, 0.01), 1500) == 1e-300  # below the float range: the floor, never 0


def test_site_threshold_is_the_lowest_score_whose_background_tail_is_at_most_alpha():
    rng = np.random.default_rng(3)
    bins = rng.integers(-300, 200, size=(5, 4))
    bg = np.array([0.3, 0.2, 0.2, 0.3])
    scores, probs = [], []
    for word in product(range(4), repeat=5):  # every 5-mer, enumerated
        scores.append(sum(bins[j, b] for j, b in enumerate(word)))
        probs.append(np.prod(bg[list(word)]))
    scores, probs = np.array(scores), np.array(probs)
    for alpha in (1e-1, 1e-2, 3e-3):  # the best 5-mer has probability 1.08e-3
        t = site_threshold(bins, bg, alpha)
        assert probs[scores >= t].sum() <= alpha * (1 + 1e-9)
        assert probs[scores >= t - 1].sum() > alpha  # one bin lower is too common
    assert site_threshold(bins, bg, 1e-9) == bins.max(axis=1).sum()  # rarer than any 5-mer: the best score


def test_windows_on_planted_sites_beat_random_windows_and_random_windows_do_not(vertebrates):
    rng = np.random.default_rng(0)
    seqs, starts = _planted(_pfm(vertebrates, "CTCF"), 200, 500, rng)
    codes = [encode(s) for s in seqs]
    oracle = [np.ones(500) for _ in seqs]
    for score, pos in zip(oracle, starts):
        score[pos + 9] = 50.0  # a "model" that looks at the middle of each site
    null = selection_null(discover(seqs, oracle), codes, seed=1)
    assert null.site_rate > 0.8 and null.random_site_rate < 0.05 and null.p_value < 1e-100
    ratios, p_values = [], []
    for k in range(8):  # windows placed at random: the motif aligned there is not the model's doing
        noise = [rng.random(500) for _ in seqs]
        null = selection_null(discover(seqs, noise), codes, seed=k)
        ratios.append(null.site_rate / null.random_site_rate)
        p_values.append(null.p_value)
    # cross-fitting keeps windows that chose their motif from holding it more often than random ones
    assert 0.5 < np.mean(ratios) < 1.5, ratios
    assert min(p_values) > 1e-3 and np.median(p_values) > 0.1, p_values


def test_motif_found_by_any_windows_in_short_sequences_is_not_credited_to_the_selection(vertebrates):
    rng = np.random.default_rng(5)
    seqs, _ = _planted(_pfm(vertebrates, "CTCF"), 300, 80, rng)
    noise = [rng.random(80) for _ in seqs]  # windows of 31 bp in 80 bp sequences often hold the site anyway
    motif = discover(seqs, noise)
    best = match(motif.pfm, TargetSet([m.counts for m in vertebrates]), n_shuffles=20, seed=0)[0]
    assert vertebrates[best.target].name == "CTCF"  # enrichment + EM find CTCF in random windows
    null = selection_null(motif, [encode(s) for s in seqs], seed=0)
    assert null.random_site_rate > 0.1 and null.p_value > 0.01  # the null says so


def test_a_head_that_looks_at_the_centre_of_every_sequence_gets_no_credit_for_centred_sites(vertebrates):
    rng = np.random.default_rng(4)
    pfm = _pfm(vertebrates, "CTCF")
    seqs, starts = [], []
    for _ in range(300):  # peaks: half hold a site near the summit (its middle at 100 +- 20)
        seq = list(rng.choice(list("ACGT"), size=200))
        pos = int(100 - len(pfm) // 2 + rng.integers(-20, 21))
        if rng.random() < 0.5:
            seq[pos: pos + len(pfm)] = "".join("ACGT"[rng.choice(4, p=col)] for col in pfm)
            starts.append(pos)
        else:
            starts.append(None)
        seqs.append("".join(seq))
    codes = [encode(s) for s in seqs]
    centre = [np.ones(200) for _ in seqs]
    for score in centre:
        score[100] = 50.0  # the middle of every sequence, whatever it holds
    null = selection_null(discover(seqs, centre), codes, seed=0)
    uniform = 0.5 * (31 - len(pfm) + 1) / 200  # windows placed anywhere would hold a site this often
    assert null.site_rate > 2 * uniform and null.p_value > 0.01  # the sites are there, but not thanks to the head
    reader = [np.ones(200) for _ in seqs]
    for score, pos in zip(reader, starts):
        score[100 if pos is None else pos + 9] = 50.0  # the site where there is one, else the middle
    null = selection_null(discover(seqs, reader), codes, seed=0)
    assert null.site_rate > null.random_site_rate + 0.1 and null.p_value < 1e-6


def test_selection_null_is_reproducible_from_its_seed():
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), size=300)) for _ in range(120)]
    codes = [encode(s) for s in seqs]
    motif = discover(seqs, [rng.random(300) for _ in seqs])
    runs = [selection_null(motif, codes, seed=s) for s in (7, 7, 8, 9)]
    assert runs[0] == runs[1]
    assert len({(r.site_rate, r.random_site_rate) for r in runs[1:]}) > 1  # the halves follow the seed


def test_selection_null_of_a_motif_without_windows_is_nan():
    from genotx.motifs.discover import Motif

    motif = Motif(counts=np.eye(4)[[0, 1, 2, 3, 0]] * 5, background=np.full(4, 0.25))
    null = selection_null(motif, [encode("ACGTACGTAC")], seed=0)
    assert np.isnan(null.p_value) and null.windows == 0


def test_more_shuffles_go_only_to_matches_with_few_exceedances_and_lower_their_floor(vertebrates):
    rng = np.random.default_rng(1)
    pfm = _pfm(vertebrates, "MAFK")
    sites = np.array([[rng.choice(4, p=col) for col in pfm] for _ in range(200)])
    query = np.stack([np.bincount(sites[:, j], minlength=4) for j in range(len(pfm))]) + 1.0
    targets = TargetSet([m.counts for m in vertebrates])
    n = 50
    plain = {h.target: h.p_value for h in match(query, targets, n_shuffles=n, max_shuffles=n, seed=0)}
    refined = {h.target: h.p_value for h in match(query, targets, n_shuffles=n, seed=0)}
    pool = n * len(vertebrates)
    resolved = [j for j, p in plain.items() if p >= (1 + MIN_EXCEED) / (1 + pool) - 1e-15]
    unresolved = [j for j in plain if j not in resolved]
    assert unresolved and all(refined[j] == plain[j] for j in resolved)
    assert min(refined[j] for j in unresolved) < min(plain.values())


def test_matches_are_ranked_by_similarity_then_q_value(vertebrates):
    pfm = _pfm(vertebrates, "Pou5f1::Sox2")
    hits = match(pfm, TargetSet([m.counts for m in vertebrates]), n_shuffles=20, seed=0)
    keys = [(-round(h.similarity, 4), h.q_value) for h in hits]
    assert keys == sorted(keys)
    assert vertebrates[hits[0].target].name == "Pou5f1::Sox2"
