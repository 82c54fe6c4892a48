"""Baselines of the regulatory sets shipped in data/labelled (printed with the taxon rows)."""

from __future__ import annotations

from genotx.tasks.baselines import LinearBaseline
from genotx.tasks.metrics import classification_metrics


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

