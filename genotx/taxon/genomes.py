"""Taxon task inputs: genomes labelled with a species, from a taxa TSV or header tags.

A taxa TSV maps genome files to species, in the form of ``data/genomes/taxa.tsv``:
columns ``file`` and ``species`` (or ``taxon``), optional ``ncbi_taxid`` (or
``taxid``), ``strain`` and ``split``. Rows are matched on the file's base name.
Without a TSV every FASTA header must carry a tag ``taxon=NAME`` (and may carry
``taxid=N``), e.g. ``>NC_000913.3 taxon=Escherichia_coli taxid=562``.

Each genome file is one `genotx.io.genome.Genome` (uint8 base codes), the
form the read simulator (`genotx.taxon.simulate`) and the k-mer index
(`genotx.taxon.kmer_index`) read; with header tags each record is its own genome.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from genotx.errors import InputError
from genotx.io import iter_records
from genotx.io.genome import Genome
from genotx.shipped import data_path
from genotx.tasks._table import display, open_text, read_rows

_TAG = re.compile(r"(?:^|[\s|;])(taxon|taxid)=([^\s|;]+)")


@dataclass(frozen=True)
class Taxon:
    """A species: ``name`` as written by people, ``label`` as written in read ids and TSVs."""

    name: str
    taxid: int | None = None

    @property
    def label(self) -> str:
        return self.name.replace(" ", "_")


@dataclass
class GenomeSet:
    """Genomes grouped by taxon; ``taxa[i]`` is class ``i`` of a classifier, ``taxon_of[g]`` the class of genome g."""

    taxa: list[Taxon]
    genomes: list[Genome]
    taxon_of: list[int]

    def labels(self) -> list[str]:
        return [t.label for t in self.taxa]

    def of_taxon(self, taxon: int) -> list[Genome]:
        """The genomes of class ``taxon``."""
        return [g for g, t in zip(self.genomes, self.taxon_of) if t == taxon]


def _parse_taxid(value: str, where: str) -> int | None:
    if value in ("", "NA", "na", "-"):
        return None
    if not value.isdigit():
        raise InputError(f"{where}: taxid {value!r} is not a positive integer")
    return int(value)


def load_taxa_table(path: str) -> dict[str, dict]:
    """Read a taxa TSV into ``{file base name: {"taxon": Taxon, "strain", "split"}}``.

    Example: ``load_taxa_table(data_path("genomes", "taxa.tsv"))["vibrio_cholerae-O395.fa.gz"]``.
    """
    name = display(path)
    table: dict[str, dict] = {}
    seen: dict[str, int | None] = {}
    rows = read_rows(path, ("file",), ("species", "taxon", "ncbi_taxid", "taxid", "strain", "split"))
    for number, row in rows:
        where = f"{name}: line {number}"
        species = row.get("species") or row.get("taxon") or ""
        if not species:
            raise InputError(f"{where}: no species (a column 'species' or 'taxon' is needed)")
        taxid = _parse_taxid(row.get("ncbi_taxid", row.get("taxid", "")), where)
        if species in seen and seen[species] != taxid:
            raise InputError(f"{where}: taxid {taxid} of {species!r} differs from an earlier row ({seen[species]})")
        seen[species] = taxid
        key = os.path.basename(row["file"])
        if key in table:
            raise InputError(f"{where}: file {key!r} is listed twice")
        table[key] = {"taxon": Taxon(species, taxid), "strain": row.get("strain", ""), "split": row.get("split", "")}
    if not table:
        raise InputError(f"{name}: no rows")
    return table


def _headers(path: str) -> list[str]:
    """Full header lines of a FASTA file (the reader keeps only the first word)."""
    with open_text(path) as stream:
        return [line[1:].strip() for line in stream if line.startswith(">")]


def _tagged_taxon(header: str, where: str) -> Taxon:
    tags = dict(m.groups() for m in _TAG.finditer(header))
    if "taxon" not in tags:
        raise InputError(f"{where}: header has no taxon=NAME tag and no --taxa table was given")
    return Taxon(tags["taxon"].replace("_", " "), _parse_taxid(tags.get("taxid", ""), where))


def _lookup(table: dict[str, dict], path: str, taxa_name: str) -> dict:
    base = os.path.basename(path)
    for key in (base, base[:-3] if base.endswith(".gz") else base + ".gz"):
        if key in table:
            return table[key]
    raise InputError(f"{path}: not listed in {taxa_name} (column 'file'); add a row for it")


def load_genomes(paths: list[str], taxa: str | None = None) -> GenomeSet:
    """Load genome FASTA files with their species, from a taxa TSV or header tags.

    Example: ``load_genomes(shipped_genomes("train"), taxa=str(data_path("genomes", "taxa.tsv")))``.
    """
    if not paths:
        raise InputError("no genome files given")
    table = load_taxa_table(taxa) if taxa else None
    taxa_list: list[Taxon] = []
    index: dict[str, int] = {}
    genomes: list[Genome] = []
    taxon_of: list[int] = []

    def taxon_index(taxon: Taxon, where: str) -> int:
        if taxon.name not in index:
            index[taxon.name] = len(taxa_list)
            taxa_list.append(taxon)
        elif taxa_list[index[taxon.name]].taxid != taxon.taxid:
            raise InputError(f"{where}: taxid of {taxon.name!r} differs from an earlier genome")
        return index[taxon.name]

    for path in paths:
        if path == "-":
            raise InputError("genomes must be files, not stdin")
        records = list(iter_records([path]))
        if not records:
            raise InputError(f"{path}: no sequences")
        if table is not None:
            entry = _lookup(table, path, display(taxa))
            taxon_of.append(taxon_index(entry["taxon"], path))
            genomes.append(Genome.from_sequences([r.id for r in records], [r.seq for r in records], path))
            continue
        # Header tags: each record may name its own taxon, so a record is a genome.
        for number, (header, rec) in enumerate(zip(_headers(path), records), 1):
            where = f"{path}: record {number} ({rec.id!r})"
            taxon_of.append(taxon_index(_tagged_taxon(header, where), where))
            genomes.append(Genome.from_sequences([rec.id], [rec.seq], path))
    return GenomeSet(taxa_list, genomes, taxon_of)


def shipped_taxa() -> Path:
    """The taxa TSV of the genomes shipped in ``data/genomes``."""
    return data_path("genomes", "taxa.tsv")


def shipped_genomes(split: str = "train") -> list[str]:
    """Paths of the shipped genomes of a split: ``train``, ``heldout`` or ``all``.

    The held-out split is one strain each of H. pylori, S. aureus and V. cholerae,
    kept out of training so that accuracy on unseen strains can be measured.
    Example: ``load_genomes(shipped_genomes(), taxa=str(shipped_taxa()))``.
    """
    if split not in ("train", "heldout", "all"):
        raise InputError(f"unknown split {split!r} (choose train, heldout or all)")
    taxa = shipped_taxa()
    table = load_taxa_table(str(taxa))
    return [str(taxa.parent / f) for f, e in table.items() if split == "all" or e["split"] == split]
