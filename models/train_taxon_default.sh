#!/usr/bin/env bash
# Reproduce models/taxon-default from scratch (fixed seed) on a 2-core CPU.
#
# Species: the training split of data/genomes/taxa.tsv (10 species; one strain
# each of H. pylori, S. aureus and V. cholerae is held out for evaluation).
# Reads: simulated on the fly from both strands, 150 bp, per-read error rate
# uniform in 0-3 % (80 % substitutions, 10 % insertions, 10 % deletions).
# Model: preset taxon-tiny (d_model 64, 2 layers, 4 heads, learned positions)
# on non-overlapping 6-mers (kmer6:6), mean pooling, classification head.
# Non-overlapping k-mers keep a 150 bp read at 26 tokens, which is what makes
# >= 10 000 reads/s on 2 cores reachable; overlapping 6-mers would be 146 tokens.
#
# Usage: models/train_taxon_default.sh [OUT_DIR]   (default: models/taxon-default)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-models/taxon-default}
GENOTX=${GENOTX:-.venv/bin/genotx}
train=$(awk -F'\t' 'NR > 1 && $6 == "train" { printf "data/genomes/%s ", $1 }' data/genomes/taxa.tsv)
# shellcheck disable=SC2086
"$GENOTX" finetune --task taxon $train --taxa data/genomes/taxa.tsv \
    --preset taxon-tiny --tokenizer kmer6:6 --pooling mean --read-lengths 150 --error-rate 0-0.03 \
    --steps "${STEPS:-6000}" --batch-size 128 --lr 3e-3 --eval-every 500 --patience 4 \
    --seed 1 -o "$out"
