"""`genotx grid`: compare tokenizer × positional encoding × objective × mixer on equal compute.

Modules: `spec` (axes, budgets, cells), `data` (shipped corpus and tasks),
`cell` (one pretrain + extrapolation + fine-tuning run), `extrapolate`
(held-out loss at multiples of the training length), `runner` (stages,
resume, outputs), `table` (grid.tsv rows, ranking, intervals), `report` and
`plots` (report.md and its figures).
"""
