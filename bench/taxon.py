"""Taxon classification side by side: Kraken2, the k-mer baseline and `genotx predict`.

One run builds a Kraken2 database from the shipped training genomes (minimal
taxonomy written here: one node per species under the root), trains the
k-mer logistic-regression baseline on reads simulated from the same genomes,
and classifies the same read sets with every tool (`genotx` is the default model
as `predict` runs it; when that model has a k-mer memory, `genotx-net` is its
network alone, `predict --no-memory`):

- reads simulated from the training genomes at 0, 1, 3 and 5 % error;
- reads simulated (0-3 % error) from the held-out strains (H. pylori SJM180,
  S. aureus RF122, V. cholerae O395), whose species were trained on other strains;
- the real Illumina reads in --real-reads (72 bp). Truth is the species whose
  training genomes share the most 25-mers (either strand) with the read; reads
  sharing none are "outside" (organisms not in the database: mostly honey bee
  and human nuclear RNA); reads whose best species shares fewer than 4
  25-mers or less than twice the next one's, or whose species has fewer than
  50 such reads in the set, are "unclear" and left out. This truth
  favours exact-match tools such as Kraken2, which should be kept in mind.

Species-level accuracy counts an unclassified read as wrong; macro-F1 is over
the true species of the set. For "outside" reads the table gives the fraction
classified (false positives, lower is better). Speed rows time whole processes
(start-up included) of Kraken2 and `genotx predict --task taxon` on --threads
threads, side by side, median of --repeats runs: on empty input (start-up) and
on 200 k and 2 M simulated 150 bp reads (gzip FASTQ, cached); wall and CPU
(user + system) seconds, peak RSS, ratios to Kraken2, and the load average of
the machine beside them (it is shared; ratios from one run are what to compare).
The baseline calls a read unclassified below --min-prob, like `predict`.

    python bench/taxon.py            # a few minutes
    python bench/taxon.py --full     # more reads per set
    python bench/taxon.py --speed    # the speed rows alone
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds scripts named like standard modules (tokenize.py); keep them off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402

from genotx.io import iter_records  # noqa: E402
from genotx.tasks.baselines import LinearBaseline  # noqa: E402
from genotx.tasks.metrics import classification_metrics  # noqa: E402
from genotx.taxon.kmer_index import canonical_kmers  # noqa: E402
from genotx.taxon.simulate import ErrorModel, ReadSimulator, parse_truth, to_fastq  # noqa: E402
from genotx.io.codes import decode, encode  # noqa: E402
from genotx.taxon import UNCLASSIFIED  # noqa: E402
from genotx.taxon.genomes import load_genomes, shipped_genomes, shipped_taxa  # noqa: E402

REAL_READS = ["/work/shared/data/reads/SRR059298_subset-reads1-20000.fastq.gz",
              "/work/shared/data/reads/ERR127302_1_subset.fastq.gz"]
TRUTH_K = 25
MIN_REAL_CLASS = 50


def simulate(genomes, n, rate, seed, path):
    sim = ReadSimulator(genomes, length=150, errors=ErrorModel.parse(rate), seed=seed)
    reads = list(sim.reads(n))
    Path(path).write_text(to_fastq(reads))
    return [r.id for r in reads], [parse_truth(r.id).taxon for r in reads]


# --- Kraken2 ---------------------------------------------------------------------------

def _digest(genomes) -> str:
    """Names the cached files built from a genome set."""
    labelled = zip(genomes.genomes, genomes.taxon_of)
    return hashlib.sha1("".join(f"{g.path}:{g.bp}:{t}" for g, t in labelled).encode()).hexdigest()[:12]


def build_kraken_db(genomes, threads, cache: Path) -> tuple[Path, dict[int, str]]:
    """Database with taxid 100 + i for species i (our own ids; one genome lacks an NCBI taxid)."""
    taxids = {100 + i: t.label for i, t in enumerate(genomes.taxa)}
    digest = _digest(genomes)
    db = cache / f"kraken2-{digest}"
    if (db / "hash.k2d").exists():
        return db, taxids
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix="build-"))
    (tmp / "taxonomy").mkdir()
    with open(tmp / "taxonomy" / "names.dmp", "w") as names, open(tmp / "taxonomy" / "nodes.dmp", "w") as nodes:
        names.write("1\t|\troot\t|\t\t|\tscientific name\t|\n")
        nodes.write("1\t|\t1\t|\tno rank\t|\n")
        for taxid, label in taxids.items():
            names.write(f"{taxid}\t|\t{label.replace('_', ' ')}\t|\t\t|\tscientific name\t|\n")
            nodes.write(f"{taxid}\t|\t1\t|\tspecies\t|\n")
    library = tmp / "genomes.fa"
    with open(library, "w") as out:
        for g, t in zip(genomes.genomes, genomes.taxon_of):
            for rid, codes in zip(g.ids, g.records):
                out.write(f">{rid.replace('|', '_')}|kraken:taxid|{100 + t}\n{decode(codes)}\n")
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run(["kraken2-build", "--add-to-library", str(library), "--db", str(tmp), "--no-masking"], **run)
    subprocess.run(["kraken2-build", "--build", "--db", str(tmp), "--threads", str(threads)], **run)
    library.unlink()
    shutil.rmtree(db, ignore_errors=True)
    os.replace(tmp, db)
    return db, taxids


def timed(cmd, stdout_path) -> tuple[float, float]:
    """Run ``cmd`` with stdout to a file; return (wall seconds, peak RSS in MB)."""
    wall, _, rss = timed_cpu(cmd, stdout_path)
    return wall, rss


def timed_cpu(cmd, stdout_path) -> tuple[float, float, float]:
    """Run ``cmd`` with stdout to a file; return (wall seconds, CPU seconds (user + system), peak RSS in MB).

    GNU time measures CPU and peak RSS: a child forked straight from this (large)
    process would report this process's memory as its own high-water mark.
    """
    stats_path = f"{stdout_path}.stats"
    start = time.perf_counter()
    with open(stdout_path, "w") as out:
        done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", stats_path, *map(str, cmd)], stdout=out,
                              stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{done.stderr.decode()[-2000:]}")
    user, system, rss = Path(stats_path).read_text().split()[-3:]
    return wall, float(user) + float(system), int(rss) / 1024


def kraken(db, taxids, fastq, threads, work):
    out = work / "kraken.out"
    wall, rss = timed(["kraken2", "--db", str(db), "--threads", str(threads), str(fastq)], out)
    calls = {}
    for line in open(out):
        status, rid, taxid = line.split("\t")[:3]
        calls[rid] = taxids.get(int(taxid), UNCLASSIFIED) if status == "C" else UNCLASSIFIED
    return calls, wall, rss


# --- k-mer baseline, run in a child process so that speed and memory are its own --------

def baseline_child(model_path, fastq, min_prob):
    model = LinearBaseline.load(model_path)
    out = sys.stdout
    ids, seqs = [], []
    for rec in iter_records([fastq]):
        ids.append(rec.id)
        seqs.append(rec.seq)
        if len(ids) == 8192:
            _baseline_write(model, ids, seqs, min_prob, out)
            ids, seqs = [], []
    _baseline_write(model, ids, seqs, min_prob, out)


def _baseline_write(model, ids, seqs, min_prob, out):
    if not ids:
        return
    probs = model.predict_proba(seqs)
    best = probs.argmax(axis=1)
    for rid, b, p in zip(ids, best, probs[np.arange(len(best)), best]):
        out.write(f"{rid}\t{model.classes[b] if p >= min_prob else UNCLASSIFIED}\n")


def baseline(model_path, fastq, threads, min_prob, work):
    out = work / "baseline.out"
    env_cmd = [sys.executable, __file__, "--baseline-child", str(model_path), str(fastq), str(min_prob)]
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    wall, rss = timed(env_cmd, out)
    return dict(line.rstrip("\n").split("\t") for line in open(out)), wall, rss


def genotx_predict_problem(work) -> str:
    """Why `genotx predict --task taxon` cannot run here ('' when it can)."""
    from genotx.cli import COMMANDS

    if not any(name == "predict" for name, _ in COMMANDS):
        return "genotx predict does not exist yet in this build"
    probe = work / "probe.fq"
    probe.write_text("@probe\n" + "ACGT" * 38 + "\n+\n" + "I" * 152 + "\n")
    cmd = [sys.executable, "-m", "genotx", "-q", "predict", "--task", "taxon", str(probe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]


def uses_memory() -> bool:
    """Whether the default taxon model has a k-mer memory (then its network alone is a column too)."""
    import json

    from genotx.shipped import default_model

    return bool(json.load(open(Path(default_model("taxon")) / "config.json"))["metadata"].get("kmer_memory"))


def genotx_predict(fastq, threads, work, *options):
    out = work / "predict.out"
    cmd = [sys.executable, "-m", "genotx", "-t", str(threads), "-q", "predict", "--task", "taxon", *options,
           str(fastq)]
    wall, rss = timed(cmd, out)
    calls = {}
    for line in open(out):
        if line.startswith("#") or line.startswith("read_id\t"):
            continue
        fields = line.rstrip("\n").split("\t")
        calls[fields[0]] = fields[1]
    return calls, wall, rss


# --- speed: whole processes side by side, median of repeats ---------------------------------

SPEED_READS = (200_000, 2_000_000)
TARGET_WALL = 1.2  # genotx wall time at most this many times Kraken2's (the k-mer memory alone decides)
TARGET_START = 0.5  # seconds of start-up on empty input


def speed_reads(genomes, n: int, cache: Path) -> Path:
    """``n`` reads of 150 bp at 1 % error from ``genomes``, gzip FASTQ, cached (2 M reads take minutes)."""
    path = cache / f"speed-{_digest(genomes)}-{n}.fq.gz"
    if not path.exists():
        reads = ReadSimulator(genomes, length=150, errors=ErrorModel.parse("0.01"), seed=300).reads(n)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wt", compresslevel=1) as out:
            while chunk := [r for _, r in zip(range(20000), reads)]:
                out.write(to_fastq(chunk))
        os.replace(tmp, path)
    return path


def speed_table(commands, inputs, work: Path, repeats: int = 3) -> dict:
    """One row per input and tool: medians of ``repeats`` runs, tools interleaved so load drifts hit all alike.

    ``commands``: (name, argv of a FASTQ path); the first is the reference of the ratio columns.
    ``inputs``: (label, path). Returns {(label, name): (wall, cpu, rss)}.
    """
    print("speed\ttool\twall_s\tcpu_s\trss_MB\twall_vs_" + commands[0][0] + "\tcpu_vs_" + commands[0][0]
          + "\tload_1min", flush=True)
    medians = {}
    for label, path in inputs:
        runs = {name: [] for name, _ in commands}
        for _ in range(repeats):
            for name, argv in commands:
                runs[name].append(timed_cpu(argv(path), work / "speed.out"))
        load = os.getloadavg()[0]
        for name, _ in commands:
            medians[label, name] = tuple(float(np.median([r[i] for r in runs[name]])) for i in range(3))
        ref = medians[label, commands[0][0]]
        for name, _ in commands:
            wall, cpu, rss = medians[label, name]
            print(f"{label}\t{name}\t{wall:.2f}\t{cpu:.2f}\t{rss:.0f}\t{wall / ref[0]:.2f}\t{cpu / max(ref[1], 1e-9):.2f}"
                  f"\t{load:.1f}", flush=True)
    return medians


def speed(train, db, threads: int, work: Path, cache: Path, sizes=SPEED_READS, repeats: int = 3) -> None:
    """Kraken2 and `genotx predict --task taxon` (the default model as shipped) on empty input and on simulated sets."""
    empty = work / "empty.fq"
    empty.write_text("")
    inputs = [("empty", empty)] + [(f"{n // 1000}k reads" if n < 10**6 else f"{n // 10**6}M reads",
                                     speed_reads(train, n, cache)) for n in sizes]
    commands = [("kraken2", lambda fq: ["kraken2", "--db", db, "--threads", threads, fq]),
                ("genotx", lambda fq: [sys.executable, "-m", "genotx", "-t", threads, "-q", "predict", "--task",
                                       "taxon", fq])]
    print(f"# speed: whole processes, median of {repeats}, {threads} threads, 150 bp reads at 1 % error, gzip; "
          f"{os.cpu_count()} cores, load average before {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    medians = speed_table(commands, inputs, work, repeats)
    start = medians["empty", "genotx"][0]
    print(f"# target start-up <= {TARGET_START} s: genotx {start:.2f} s ({'met' if start <= TARGET_START else 'not met'})")
    for label, _ in inputs[1:]:
        ratio = medians[label, "genotx"][0] / medians[label, "kraken2"][0]
        print(f"# target wall <= {TARGET_WALL}x kraken2 on {label}: {ratio:.2f}x "
              f"({'met' if ratio <= TARGET_WALL else 'not met'})")


# --- held-out strains: which parts should call -------------------------------------------------

def heldout_rows(train, heldout, db, taxids, work, cache, threads, candidate: str, n: int) -> None:
    """Accuracy on reads of the held-out strains at 1/3/5 % error, and unknown-organism reads classified.

    Columns: Kraken2; the shipped model (today's weights); ``candidate`` (a model directory, e.g. the
    shipped model refitted by `finetune --from models/taxon-default --steps 0`) with its own weights,
    with its network alone (--no-memory), and with its memory alone (network weight 0, its memory weight).
    """
    import json

    config = json.loads((Path(candidate) / "config.json").read_text())
    w_model, w_memory = config["metadata"]["kmer_memory"]["weights"]
    memory_alone = work / "memory-alone"
    shutil.copytree(candidate, memory_alone, dirs_exist_ok=True)
    config["metadata"]["kmer_memory"]["weights"] = [0.0, w_memory]
    (memory_alone / "config.json").write_text(json.dumps(config))
    tools = [("kraken2", lambda fq: kraken(db, taxids, fq, threads, work)),
             ("shipped", lambda fq: genotx_predict(fq, threads, work)),
             (f"candidate({w_model:.3g},{w_memory:.3g})", lambda fq: genotx_predict(fq, threads, work, "--model", candidate)),
             ("candidate-net", lambda fq: genotx_predict(fq, threads, work, "--model", candidate, "--no-memory")),
             ("candidate-memory", lambda fq: genotx_predict(fq, threads, work, "--model", memory_alone))]
    print("held-out strains\tn\t" + "\t".join(f"{name} acc\t{name} s" for name, _ in tools))
    for i, rate in enumerate(["0.01", "0.03", "0.05"]):
        path = work / f"heldout{rate}.fq"
        ids, truth = simulate(heldout, n, rate, 400 + i, path)
        cells = [f"{float(rate) * 100:.0f}% error", str(n)]
        for _, run in tools:
            calls, wall, _ = run(path)
            cells += [_fmt(score(calls, ids, truth, None)["accuracy"]), f"{wall:.1f}"]
        print("\t".join(cells), flush=True)
    records = list(iter_records([REAL_READS[0]]))
    truth = real_truth(train.labels(), kmer_tables(train, cache), [r.seq for r in records])
    outside = [r for r, t in zip(records, truth) if t == "outside"]
    path = work / "outside.fq"
    path.write_text("".join(f"@{r.id}\n{r.seq}\n+\n{r.qual}\n" for r in outside))
    shares = [np.mean([c != UNCLASSIFIED for c in run(path)[0].values()]) for _, run in tools]
    print(f"# {len(outside)} SRR059298 reads sharing no 25-mer with the training genomes, classified anyway: "
          + ", ".join(f"{name} {100 * x:.1f}%" for (name, _), x in zip(tools, shares)))


# --- truth of the real reads -------------------------------------------------------------

def _canonical_kmers(codes: np.ndarray, k: int) -> np.ndarray:
    """The canonical k-mers of ``codes`` without N, as 2-bit codes."""
    kmers, valid = canonical_kmers(codes, k)
    return kmers[valid]


def kmer_tables(genomes, cache: Path) -> list[np.ndarray]:
    """Sorted canonical 25-mers of each taxon's genomes (cached on disk as .npy)."""
    digest = _digest(genomes)
    tables = []
    for t, taxon in enumerate(genomes.taxa):
        path = cache / f"kmers{TRUTH_K}-{digest}-{t}.npy"
        if not path.exists():
            parts = [_canonical_kmers(c, TRUTH_K) for g in genomes.of_taxon(t) for c in g.records]
            np.save(f"{path}.tmp.npy", np.unique(np.concatenate(parts)))
            os.replace(f"{path}.tmp.npy", path)
        tables.append(np.load(path))
    return tables


def real_truth(labels, tables, reads) -> list[str]:
    """The species sharing the most 25-mers with each read, if clearly ahead.

    Clearly ahead: at least 4 shared 25-mers and at least twice as many as the
    next species. 'outside': no 25-mer shared with any training genome;
    'unclear' (left out of accuracy): the rest, i.e. near-ties such as
    DWV/VDV-1 recombinants, and chance hits of a few 25-mers.
    """
    read_kmers = [_canonical_kmers(encode(seq), TRUTH_K) for seq in reads]
    sizes = np.array([len(k) for k in read_kmers])
    owner = np.repeat(np.arange(len(reads)), sizes)
    kmers = np.concatenate(read_kmers)
    hits = np.zeros((len(reads), len(tables)), dtype=np.int64)
    for t, table in enumerate(tables):
        idx = np.searchsorted(table, kmers).clip(max=len(table) - 1)
        hits[:, t] = np.bincount(owner[table[idx] == kmers], minlength=len(reads))
    truth = []
    ranked = np.sort(hits, axis=1)
    for row, top, second in zip(hits, ranked[:, -1], ranked[:, -2]):
        if top == 0:
            truth.append("outside")
        elif top < 4 or top < 2 * second:
            truth.append("unclear")
        else:
            truth.append(labels[int(row.argmax())])
    # A species with a handful of such reads (conserved genes) would make macro-F1 noise.
    counts = {t: truth.count(t) for t in set(truth)}
    return [t if t in ("outside", "unclear") or counts[t] >= MIN_REAL_CLASS else "unclear" for t in truth]


# --- the run --------------------------------------------------------------------------------

def score(calls, ids, truth, classes):
    pred = [calls.get(i, UNCLASSIFIED) for i in ids]
    judged = [(t, p) for t, p in zip(truth, pred) if t not in ("outside", "unclear")]
    out = {}
    if judged:
        t, p = zip(*judged)
        out = classification_metrics(list(t), list(p), classes=sorted(set(t)))
    outside = [p for t, p in zip(truth, pred) if t == "outside"]
    out["outside_classified"] = float(np.mean([p != UNCLASSIFIED for p in outside])) if outside else None
    out["classified"] = float(np.mean([p != UNCLASSIFIED for p in pred]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="larger read sets (slower)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-prob", type=float, default=0.5)
    ap.add_argument("--real-reads", nargs="*", default=REAL_READS)
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "genotx-bench"))
    ap.add_argument("--speed", action="store_true", help="only the speed rows (Kraken2 vs genotx, wall/CPU/RSS)")
    ap.add_argument("--speed-reads", type=int, nargs="*", default=list(SPEED_READS), help="sizes of the speed sets")
    ap.add_argument("--heldout", metavar="MODEL", help="only the held-out strain rows, for the shipped model and MODEL")
    ap.add_argument("--repeats", type=int, default=3, help="runs per speed row (the median is shown)")
    ap.add_argument("--baseline-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        model, fastq, min_prob = args.baseline_child
        return baseline_child(model, fastq, float(min_prob))

    n_eval, n_train = (10000, 10000) if args.full else (2000, 2000)
    taxa = str(shipped_taxa())
    train = load_genomes(shipped_genomes("train"), taxa=taxa)
    heldout = load_genomes(shipped_genomes("heldout"), taxa=taxa)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="genotx-bench-taxon-"))
    t0 = time.perf_counter()
    db, taxids = build_kraken_db(train, args.threads, cache)
    print(f"kraken2 database: {db} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.heldout:
        return heldout_rows(train, heldout, db, taxids, work, cache, args.threads, args.heldout, 2000)
    if args.speed:
        return speed(train, db, args.threads, work, cache, args.speed_reads, args.repeats)

    t0 = time.perf_counter()
    train_sim = ReadSimulator(train, length=150, errors=ErrorModel(), seed=12345)
    reads = list(train_sim.reads(n_train * len(train.taxa)))
    model = LinearBaseline(features="kmer", k=5).fit([r.seq for r in reads], np.array([r.taxon for r in reads]),
                                                     train.labels())
    model_path = work / "baseline.safetensors"
    model.save(str(model_path))
    print(f"k-mer baseline trained on {len(reads)} reads ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    sets = []
    for i, rate in enumerate(["0", "0.01", "0.03", "0.05"]):
        path = work / f"sim{rate}.fq"
        sets.append((f"simulated {float(rate) * 100:.0f}% error", path, *simulate(train, n_eval, rate, 100 + i, path)))
    path = work / "heldout.fq"
    sets.append(("held-out strains, 0-3% error", path, *simulate(heldout, n_eval, "0-0.03", 200, path)))
    tables = kmer_tables(train, cache) if args.real_reads else []
    for k, real in enumerate(args.real_reads):
        records = list(iter_records([real]))
        path = work / f"real{k}.fq"
        path.write_text("".join(f"@{r.id}\n{r.seq}\n+\n{r.qual}\n" for r in records))
        sets.append((f"real {Path(real).name.split('.')[0]}", path, [r.id for r in records],
                     real_truth(train.labels(), tables, [r.seq for r in records])))
    print(f"read sets ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    tools = [("kraken2", lambda fq: kraken(db, taxids, fq, args.threads, work)),
             ("kmer-LR", lambda fq: baseline(model_path, fq, args.threads, args.min_prob, work))]
    problem = genotx_predict_problem(work)
    note = f"genotx predict column skipped: {problem}" if problem else ""
    if not problem:
        tools.append(("genotx", lambda fq: genotx_predict(fq, args.threads, work)))
        if uses_memory():
            tools.append(("genotx-net", lambda fq: genotx_predict(fq, args.threads, work, "--no-memory")))
    report(sets, tools, note)
    speed(train, db, args.threads, work, cache, args.speed_reads, args.repeats)
    regulatory_baselines()
    shutil.rmtree(work, ignore_errors=True)


def regulatory_baselines() -> None:
    """Baselines of the regulatory sets shipped in data/labelled, on held-out splits."""
    from genotx.shipped import data_path
    from genotx.tasks.metrics import auroc
    from genotx.tasks.regulatory import load_class_fastas, load_labelled_tsv, stratified_split

    def labelled(name):
        data = load_labelled_tsv(str(data_path("labelled", name)))
        train, valid = stratified_split(data.labels, 0.2, seed=0)
        return data.subset(train), data.subset(valid)

    def peaks(part):
        return load_class_fastas([f"{c}={data_path('labelled', f'{c}-{part}.fa.gz')}" for c in ("oct4", "mafk")])

    sets = [("splice (20% split)", *labelled("splice.tsv.gz")), ("promoters (20% split)", *labelled("promoters.tsv.gz")),
            ("oct4 vs mafk (test files)", peaks("train1000"), peaks("test"))]
    from genotx.tasks.baselines import CNNBaseline

    print("\nregulatory set\tbaseline\tn_test\tacc\tmacro-F1\tMCC\tAUROC")
    for name, train, test in sets:
        strandless = "oct4" in name  # ChIP peaks: a motif counts on either strand
        baselines = [("kmer4-LR", LinearBaseline(features="kmer", k=4, c=1.0, max_iter=300)),
                     ("onehot-LR", LinearBaseline(features="onehot", c=0.1, max_iter=300)),
                     ("onehot-CNN", CNNBaseline(epochs=8, both_strands=strandless))]
        best = None
        for label, model in baselines:
            probs = model.fit(train.seqs, train.labels, train.classes).predict_proba(test.seqs)
            m = classification_metrics(test.labels, probs.argmax(axis=1))
            best = max(best or (m["accuracy"], label), (m["accuracy"], label))
            print(f"{name}\t{label}\t{len(test)}\t{m['accuracy']:.3f}\t{m['macro_f1']:.3f}\t{m['mcc']:.3f}\t"
                  f"{auroc(test.labels, probs):.3f}", flush=True)
        print(f"# {name}: strongest baseline by accuracy {best[1]} ({best[0]:.3f}); a model must beat it")


def _fmt(x, pct=False):
    return "NA" if x is None else f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def report(sets, tools, note):
    names = [name for name, _ in tools]
    head = ["read set", "n", "judged"] + [f"{n} {m}" for n in names for m in ("acc", "F1")]
    print("\t".join(head))
    outside_rows = []
    for label, path, ids, truth in sets:
        results = [score(run(path)[0], ids, truth, None) for _, run in tools]
        judged = sum(t not in ("outside", "unclear") for t in truth)
        cells = [label, str(len(ids)), str(judged)]
        for r in results:
            cells += [_fmt(r.get("accuracy")), _fmt(r.get("macro_f1"))]
        print("\t".join(cells), flush=True)
        if any(t == "outside" for t in truth):
            outside_rows.append((label, sum(t == "outside" for t in truth), [r["outside_classified"] for r in results]))
    for label, n_out, fractions in outside_rows:
        shown = ", ".join(f"{n} {_fmt(f, pct=True)}" for n, f in zip(names, fractions))
        print(f"# {label}: {n_out} reads share no 25-mer with the training genomes; classified anyway: {shown}")
    if note:
        print(f"# {note}")


if __name__ == "__main__":
    main()
