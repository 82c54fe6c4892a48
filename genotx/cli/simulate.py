"""Simulate sequencing reads from genomes, with the truth in each read id.

Writes FASTQ to stdout. Reads come from both strands with substitutions and
1-3 bp indels at --error-rate (a rate like 0.01, or a range like 0-0.03 from
which each read draws its own rate). Without GENOMES, the genomes shipped
with genotx are used (--split). Read ids look like this (one word):

\b
  r000001|taxon=Escherichia_coli|taxid=562|strand=-|pos=123|seq=NC_000913.3|errors=2
"""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from genotx.cli._common import command, require


@command
def run(
    genomes: Optional[List[str]] = typer.Argument(
        None, help="Genome FASTA files (default: the shipped genomes of --split).", show_default=False
    ),
    taxa: Optional[str] = typer.Option(
        None, "--taxa", help="TSV mapping genome files to species (columns file, species, ncbi_taxid); "
        "without it, FASTA headers must carry taxon=NAME.",
    ),
    n: int = typer.Option(10000, "-n", "--n", min=0, help="Number of reads."),
    length: int = typer.Option(150, "-l", "--length", min=1, help="Read length (bp)."),
    error_rate: str = typer.Option("0-0.03", "-e", "--error-rate", help="Edited bases per base: 0.01, or a range 0-0.03."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same inputs and seed: same reads)."),
    balance: str = typer.Option("taxon", "--balance", help="Reads per taxon: 'taxon' equal, 'length' by genome size."),
    split: str = typer.Option("train", "--split", help="Shipped genomes to use without GENOMES: train, heldout or all."),
) -> None:
    from genotx.taxon.simulate import ErrorModel, ReadSimulator, to_fastq
    from genotx.taxon.genomes import load_genomes, shipped_genomes, shipped_taxa

    if genomes:
        genome_set = load_genomes(list(genomes), taxa=taxa)
    else:
        require(taxa is None, "--taxa needs GENOMES (the shipped genomes come with their own table)")
        genome_set = load_genomes(shipped_genomes(split), taxa=str(shipped_taxa()))
    simulator = ReadSimulator(
        genome_set, length=length, errors=ErrorModel.parse(error_rate), seed=seed, balance=balance
    )
    chunk = []
    for read in simulator.reads(n):
        chunk.append(read)
        if len(chunk) == 1024:
            sys.stdout.write(to_fastq(chunk))
            sys.stdout.flush()
            chunk = []
    sys.stdout.write(to_fastq(chunk))
