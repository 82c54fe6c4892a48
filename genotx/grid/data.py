"""The grid's inputs: the pretraining corpus and the fine-tuning tasks, all from the shipped data/.

Corpora (FASTA genomes under data/genomes, listed in its taxa.tsv):

- ``train-genomes``: every genome whose split is ``train`` (12 genomes, 26 Mb);
- ``small-genomes``: the human mitochondrion and the two bee viruses (37 kb).

Tasks (each a `genotx.train.taskdata.TaskData`, loaded once per grid run and
shared by every cell, so every cell is scored on the same sequences):

- ``taxon``: reads of 150 bp simulated from the corpus genomes, one class per species;
- ``splice``: primate splice junctions (donor, acceptor, neither), 10 % held out;
- ``promoters``: E. coli promoters vs non-promoters, 20 % held out (106 sequences);
- ``chip``: Oct4 vs MafK ChIP-seq peaks, trained on the 2×1000 training peaks and
  scored on the 2×100 test peaks.

Example::

    files = corpus_files("small-genomes")
    data = load_tasks(("splice", "chip"), files, taxon_valid=100)
"""

from __future__ import annotations

from genotx.errors import InputError

SMALL_GENOMES = ("homo_sapiens-mitochondrion.fa.gz", "deformed_wing_virus-NC_004830.fa.gz",
                 "varroa_destructor_virus_1-NC_006494.fa.gz")
TASK_DATA_SEED = 0  # one split of every task for every cell and seed


def taxa_table() -> str:
    from genotx.shipped import data_path

    return str(data_path("genomes", "taxa.tsv"))


def corpus_files(corpus: str) -> list[str]:
    """Paths of the genomes of a named corpus (see the module docstring)."""
    from genotx.shipped import data_path
    from genotx.tasks._table import read_rows

    if corpus == "small-genomes":
        return [str(data_path("genomes", name)) for name in SMALL_GENOMES]
    if corpus == "train-genomes":
        rows = read_rows(taxa_table(), ("file", "split"), ())
        return [str(data_path("genomes", row["file"])) for _, row in rows if row["split"] == "train"]
    raise InputError(f"unknown corpus {corpus!r}; choose train-genomes or small-genomes")


def _chip():
    from genotx.shipped import data_path
    from genotx.tasks.regulatory import load_class_fastas
    from genotx.train.taskdata import TaskData

    def classes(kind: str) -> list[str]:
        return [f"{tf}={data_path('labelled', f'{tf}-{kind}.fa.gz')}" for tf in ("oct4", "mafk")]

    train, test = load_class_fastas(classes("train1000")), load_class_fastas(classes("test"))
    return TaskData("regulatory", list(train.classes), train.seqs, train.labels, test.seqs, test.labels,
                    metadata={"class_counts": train.class_counts()}, seed=TASK_DATA_SEED)


def load_task(task: str, genomes: list[str], *, taxon_valid: int):
    """The TaskData of one grid task."""
    from genotx.shipped import data_path
    from genotx.train.taskdata import make_task_data

    if task == "taxon":
        return make_task_data("taxon", genomes, taxa=taxa_table(), seed=TASK_DATA_SEED, read_lengths=(150,),
                              n_valid=taxon_valid)
    if task == "splice":
        return make_task_data("regulatory", [str(data_path("labelled", "splice.tsv.gz"))], seed=TASK_DATA_SEED)
    if task == "promoters":
        return make_task_data("regulatory", [str(data_path("labelled", "promoters.tsv.gz"))], seed=TASK_DATA_SEED,
                              valid_fraction=0.2)
    if task == "chip":
        return _chip()
    raise InputError(f"unknown grid task {task!r}")


def load_tasks(tasks, genomes: list[str], *, taxon_valid: int) -> dict:
    """{task: TaskData} for every named task, in the order given."""
    return {task: load_task(task, genomes, taxon_valid=taxon_valid) for task in tasks}
