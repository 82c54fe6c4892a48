"""Data side of the supervised tasks: regulatory, expression, variant (taxon has its own package).

Everything here is model-free (numpy only, no torch): loading labelled inputs
with errors that name the file and line, a synthetic expression set, metrics,
and simple k-mer baselines that every reported accuracy is compared against.
Shipped files are found by `genotx.shipped.data_path`.
"""

TASKS = ("taxon", "regulatory", "expression", "variant")
