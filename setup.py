"""Package layout: `genotx/` plus the top-level `kernels/` installed as `genotx.kernels`.

The mapping keeps the kernel library importable as `genotx.kernels` without
clashing with the unrelated PyPI package named `kernels`.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["genotx", "genotx.*"])
packages += ["genotx.kernels"] + [f"genotx.kernels.{p}" for p in find_packages("kernels")]

setup(
    packages=packages,
    package_dir={"genotx": "genotx", "genotx.kernels": "kernels"},
    package_data={"genotx": ["data/*", "data/**/*"]},
)
