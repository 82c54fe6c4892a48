"""Package layout: `genotx/` plus the top-level `kernels/` installed as `genotx.kernels`.

The mapping keeps the kernel library importable as `genotx.kernels` without
clashing with the unrelated PyPI package named `kernels`. The shipped data
(`data/`: genomes, labelled sets) and default models (`models/<name>/`) are
installed under `<prefix>/share/genotx/`, where `genotx.tasks.data_path` and
`genotx.train.predict.default_model` look when the package is not run from a
checkout.

`genotx.io._fastq` is a small C fast path of the FASTQ reader. It is optional:
without a C compiler the build skips it and the pure-Python parser does the work.
"""

import os

from setuptools import Extension, find_packages, setup

packages = find_packages(include=["genotx", "genotx.*"])
packages += ["genotx.kernels"] + [f"genotx.kernels.{p}" for p in find_packages("kernels")]


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
    packages=packages,
    package_dir={"genotx": "genotx", "genotx.kernels": "kernels"},
    data_files=shipped_files("data") + shipped_files("models", only_dirs=True),
    ext_modules=[Extension("genotx.io._fastq", ["genotx/io/_fastq.c"], optional=True,
                           extra_compile_args=["-O3"])],
)
