"""scaling-fit: the batched Huber/LSE fit against scipy and against Epoch AI's published
Chinchilla fits, recovery of known laws, the frontier, and the command line."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize
from scipy.special import huber, logsumexp

from genotx.scaling import lbfgs
from genotx.scaling.fit import HuberLSE, bootstrap_laws, fit_law, grid_starts
from genotx.scaling.law import ScalingLaw
from genotx.scaling.runs import read_runs

CHINCHILLA = Path(__file__).parent / "data" / "scaling_chinchilla-epoch.tsv"
# Epoch AI (Besiroglu et al. 2024), see tests/data/scaling_README.md
EPOCH_240 = {"E": 1.817, "A": 477.8, "B": 2143.9, "alpha": 0.347, "beta": 0.367}
EPOCH_245 = {"E": 1.891, "A": 495.8, "B": 12846.0, "alpha": 0.349, "beta": 0.453}
EPOCH_CI = {"E": (1.769, 1.871), "alpha": (0.317, 0.373), "beta": (0.331, 0.415)}


def genotx(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def table(stdout: str) -> dict:
    lines = [line.split("\t") for line in stdout.splitlines() if not line.startswith("#")]
    assert lines[0] == ["parameter", "estimate", "ci_low", "ci_high"]
    return {row[0]: [float(v) if v != "NA" else None for v in row[1:]] for row in lines[1:]}


def reference_objective(theta, log_n, log_d, log_loss, delta=1e-3):
    a, b, e, alpha, beta = theta
    pred = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
    return huber(delta, pred - log_loss).sum()


@pytest.fixture(scope="module")
def chinchilla():
    return read_runs([str(CHINCHILLA)])


def test_huber_lse_value_and_gradient_match_scipy_reference_and_finite_differences(chinchilla):
    objective = HuberLSE(chinchilla.params, chinchilla.tokens, chinchilla.loss)
    rng = np.random.default_rng(0)
    thetas = grid_starts()[rng.choice(4500, 8)] + rng.normal(0, 0.1, (8, 5))
    value, grad = objective(thetas, np.arange(8))
    args = (np.log(chinchilla.params), np.log(chinchilla.tokens), np.log(chinchilla.loss))
    for theta, v, g in zip(thetas, value, grad):
        assert v == pytest.approx(reference_objective(theta, *args), rel=1e-12)
        # central differences; 1e-6 relative: step 1e-6 on a function that is C1 with kinks only in curvature
        numeric = [(reference_objective(theta + h, *args) - reference_objective(theta - h, *args)) / 2e-6
                   for h in np.eye(5) * 1e-6]
        np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-9)


def test_batched_lbfgs_reaches_at_least_scipy_lbfgsb_minimum_from_the_same_starts(chinchilla):
    objective = HuberLSE(chinchilla.params, chinchilla.tokens, chinchilla.loss)
    args = (np.log(chinchilla.params), np.log(chinchilla.tokens), np.log(chinchilla.loss))
    starts = grid_starts()[np.random.default_rng(1).choice(4500, 12, replace=False)]
    batched = lbfgs.minimize(objective, starts)
    scipy_values = [scipy_minimize(reference_objective, s, args=args, method="L-BFGS-B").fun for s in starts]
    # the best over the starts must be as good as scipy's (1e-6 relative slack for rounding)
    assert batched.fun.min() <= min(scipy_values) * (1 + 1e-6)


def test_lbfgs_solves_independent_quadratics_with_their_own_minima():
    centres = np.arange(12, dtype=float).reshape(4, 3)
    scales = np.array([1.0, 10.0, 100.0])

    def objective(x, rows):
        diff = x - centres[rows]
        return (scales * diff**2).sum(1), 2 * scales * diff

    res = lbfgs.minimize(objective, np.zeros((4, 3)))
    np.testing.assert_allclose(res.x, centres, atol=1e-6)
    assert res.converged.all()


def test_grid_fit_on_all_245_chinchilla_runs_lands_on_the_all_points_row(chinchilla):
    law = fit_law(chinchilla.params, chinchilla.tokens, chinchilla.loss).law
    for name, published in EPOCH_245.items():
        assert getattr(law, name) == pytest.approx(published, rel=0.01), name


def test_synthetic_runs_with_noise_recover_the_known_law_and_its_bootstrap_interval_covers_it():
    true = ScalingLaw(E=1.2, A=60.0, B=250.0, alpha=0.3, beta=0.35)
    rng = np.random.default_rng(7)
    n = np.exp(rng.uniform(np.log(1e5), np.log(1e8), 120))
    d = np.exp(rng.uniform(np.log(1e6), np.log(1e10), 120))
    loss = true.loss(n, d) * np.exp(rng.normal(0, 0.01, 120))  # 1 % multiplicative noise
    fit = fit_law(n, d, loss)
    assert fit.law.E == pytest.approx(true.E, rel=0.02)
    assert fit.law.alpha == pytest.approx(true.alpha, abs=0.01)
    assert fit.law.beta == pytest.approx(true.beta, abs=0.01)
    thetas = bootstrap_laws(n, d, loss, fit.theta, n_samples=200, seed=3)
    for column, value in [(2, np.log(true.E)), (3, true.alpha), (4, true.beta)]:
        low, high = np.percentile(thetas[:, column], [2.5, 97.5])
        assert low <= value <= high


def test_frontier_minimises_the_law_along_each_isoflop_line():
    law = ScalingLaw(E=1.817, A=477.8, B=2143.9, alpha=0.347, beta=0.367)
    for compute in (1e18, 1e21, 1e24):
        n = np.logspace(6, 13, 200001)
        brute = n[np.argmin(law.loss(n, compute / (6 * n)))]  # reference: dense search, 3.5e-5 decades apart
        assert law.optimal_params(compute) == pytest.approx(brute, rel=1e-3)
        assert 6 * law.optimal_params(compute) * law.optimal_tokens(compute) == pytest.approx(compute, rel=1e-12)
    assert law.params_exponent + law.tokens_exponent == pytest.approx(1.0)


def test_cli_drop_worst_5_reproduces_epoch_grid_fit_and_bootstrap_intervals_overlap(tmp_path):
    png = tmp_path / "fit.png"
    proc = genotx("scaling-fit", str(CHINCHILLA), "--drop-worst", "5", "--seed", "1", "--plot", str(png),
                  "--frontier", "1e20,5.76e23")
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    for name, published in EPOCH_240.items():
        assert rows[name][0] == pytest.approx(published, rel=0.01), name
    for name, (low, high) in EPOCH_CI.items():
        ci_low, ci_high = rows[name][1:]
        assert ci_low < high and low < ci_high, name
        assert ci_low <= rows[name][0] <= ci_high
    assert {"a", "b", "N_opt@1e+20", "D_opt@5.76e+23", "loss@5.76e+23"} <= rows.keys()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "240 runs" in proc.stderr


def _write_mixed_inputs(tmp_path, chinchilla):
    rows = list(zip(chinchilla.params.tolist(), chinchilla.tokens.tolist(), chinchilla.loss.tolist()))
    tsv = tmp_path / "part.tsv"
    tsv.write_text("#comment\nparams\ttokens\tloss\textra\n" + "".join(f"{n!r}\t{d!r}\t{l!r}\tx\n" for n, d, l in rows[:100]))
    csv = tmp_path / "part.csv"
    csv.write_text("loss,params,tokens\n" + "".join(f"{l!r},{n!r},{d!r}\n" for n, d, l in rows[100:200]))
    jsons = []
    for i, (n, d, l) in enumerate(rows[200:]):
        path = tmp_path / f"run{i}" / "run.json"
        path.parent.mkdir()
        # run.json may give the loss per token and per base
        path.write_text(json.dumps({"params": n, "tokens": d, "loss": {"per_token": l, "per_base": l / 3}}))
        jsons.append(str(path))
    return [str(tsv), str(csv), *jsons]


def test_mixed_json_tsv_csv_inputs_give_the_same_fit_as_the_single_table(tmp_path, chinchilla):
    paths = _write_mixed_inputs(tmp_path, chinchilla)
    mixed = read_runs(paths)
    np.testing.assert_array_equal(mixed.loss, chinchilla.loss)
    args = ("--bootstrap", "0", "--frontier", "1e20")
    one = table(genotx("scaling-fit", str(CHINCHILLA), *args).stdout)
    proc = genotx("scaling-fit", *paths, *args)
    assert proc.returncode == 0, proc.stderr
    assert table(proc.stdout) == one


def test_bad_row_is_an_error_naming_file_and_row_unless_skip_bad(tmp_path):
    path = tmp_path / "runs.tsv"
    good = [f"{n}\t{20 * n}\t{2 + 100 / n**0.3}\n" for n in np.logspace(5, 8, 12)]
    path.write_text("params\ttokens\tloss\n" + "".join(good[:3]) + "1e6\t-5\t2.5\n" + "".join(good[3:]) + "2e6\t1e8\tNA\n")
    proc = genotx("scaling-fit", str(path), "--bootstrap", "0")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"genotx: error: {path}: row 4 (line 5): tokens is '-5', expected a positive number"
    proc = genotx("scaling-fit", str(path), "--bootstrap", "0", "--skip-bad")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 2 run(s)" in proc.stderr
    assert table(proc.stdout)["E"][0] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frontier", "1e20,abc"], "--frontier"),
        (["--drop-worst", "245"], "--drop-worst 245"),
        (["--method", "kaplan"], "--method 'kaplan'"),
    ],
)
def test_bad_options_exit_2_with_one_error_line(args, message):
    proc = genotx("scaling-fit", str(CHINCHILLA), "--bootstrap", "0", *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("genotx: error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_missing_loss_and_stdin_table_are_handled(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"params": 1e6, "tokens": 1e8}))
    proc = genotx("scaling-fit", str(bad))
    assert proc.returncode == 2 and proc.stderr.strip() == f"genotx: error: {bad}: loss is missing"
    proc = genotx("scaling-fit", "-", "--bootstrap", "0", stdin=CHINCHILLA.read_text())
    assert proc.returncode == 0 and table(proc.stdout)["alpha"][0] == pytest.approx(EPOCH_245["alpha"], rel=0.01)


def test_drop_worst_leaves_out_exactly_the_highest_losses(chinchilla):
    kept = chinchilla.drop_worst(5)
    assert len(kept) == 240
    assert kept.loss.max() <= np.sort(chinchilla.loss)[-6]


def test_isoflop_profiles_recover_the_frontier_exponent_of_a_known_law():
    from genotx.scaling.isoflop import fit_isoflop, group_budgets

    law = ScalingLaw(E=1.3, A=40.0, B=300.0, alpha=0.3, beta=0.4)
    budgets = np.logspace(12, 16, 5)
    params = np.concatenate([law.optimal_params(c) * np.logspace(-0.6, 0.6, 7) for c in budgets])
    compute = np.repeat(budgets, 7) * np.exp(np.random.default_rng(0).normal(0, 0.01, 35))  # measured, not exact
    loss = law.loss(params, compute / (6 * params))
    groups = group_budgets(compute)
    assert np.array_equal(groups, np.repeat(np.arange(5), 7))
    weights = np.random.default_rng(1).multinomial(35, np.full(35, 1 / 35), size=50).astype(float)
    fit, boot = fit_isoflop(params, loss, compute, groups, weights)
    # parabola vertices of a curve that is not a parabola: 0.02 slack on the exponent
    assert fit.a == pytest.approx(law.params_exponent, abs=0.02)
    assert np.isfinite(boot[:, 0]).mean() > 0.9


def test_planned_budgets_override_compute_when_grouping_profiles():
    from genotx.scaling.isoflop import group_budgets

    flops = [1.0e12, 1.6e12, 3.1e12, 4.4e12]  # attention terms blur the budgets
    assert list(group_budgets(flops)) == [0, 1, 2, 3]
    assert list(group_budgets(flops, budget=[1e12, 1e12, 3e12, 3e12])) == [0, 0, 1, 1]


def test_law_without_positive_exponents_has_no_frontier_and_cli_prints_na(tmp_path):
    assert np.isnan(ScalingLaw(E=1.0, A=2.0, B=3.0, alpha=-0.1, beta=0.3).optimal_params(1e20))
    # loss rising with N and D: the fit cannot have both exponents positive
    n = np.logspace(5, 8, 12)
    d = np.logspace(7, 10, 12)[::-1] * np.tile([1, 3], 6)
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{a},{b},{1 + 0.02 * np.log(a * b)}\n" for a, b in zip(n, d)))
    proc = genotx("scaling-fit", str(path), "--bootstrap", "0", "--frontier", "1e15")
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert min(rows["alpha"][0], rows["beta"][0]) <= 0
    assert rows["N_opt@1e+15"][0] is None and rows["a"][0] is None
    assert "no compute-optimal frontier" in proc.stderr
