"""Package layout: `genotx/` and its subpackages, shipped data, optional C fast paths.

The shipped data (`data/`: genomes, labelled sets) and default models
(`models/<name>/`) are installed under `<prefix>/share/genotx/`, where
`genotx.shipped.data_path` and `genotx.shipped.default_model` look when the
package is not run from a checkout.

`genotx.io._fastq` (FASTQ reader), `genotx.tokenizers._rows` (rows of
`genotx tokenize` for char and k-mer tokenizers) and `genotx.tokenizers._symmetric`
(the merge rounds of rcbpe encoding), `genotx.taxon._kmer_hits` (k-mer
look-ups of reads in the taxon index) and `genotx.taxon._rows` (the TSV lines
of `predict --task taxon`) are small C fast paths. They
are optional: without a C compiler the build skips them and the pure-Python
code does the work, with the same output.
"""

import os

from setuptools import Extension, find_packages, setup


def shipped_files(top: str, only_dirs: bool = False) -> list[tuple[str, list[str]]]:
    """(install dir, files) pairs for every folder under `top` (only its subfolders if `only_dirs`)."""
    pairs = []
    for root, _, files in sorted(os.walk(top)):
        if only_dirs and root == top:
            continue
        if files:
            pairs.append((os.path.join("share", "genotx", root), sorted(os.path.join(root, f) for f in files)))
    return pairs


setup(
    packages=find_packages(include=["genotx", "genotx.*"]),
    data_files=shipped_files("data") + shipped_files("models", only_dirs=True),
    ext_modules=[Extension(name, [source], optional=True, extra_compile_args=["-O3"],
                           include_dirs=["genotx/io"], depends=["genotx/io/normal_form.h"])
                 for name, source in (("genotx.io._fastq", "genotx/io/_fastq.c"),
                                      ("genotx.tokenizers._rows", "genotx/tokenizers/_rows.c"),
                                      ("genotx.tokenizers._symmetric", "genotx/tokenizers/_symmetric.c"),
                                      ("genotx.taxon._kmer_hits", "genotx/taxon/_kmer_hits.c"),
                                      ("genotx.taxon._rows", "genotx/taxon/_rows.c"))],
)
