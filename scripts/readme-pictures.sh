#!/usr/bin/env bash
# The README's pictures of one map per topology: 500 random colours (Python's random, seed 11),
# a 30x30 map, batch mode, PCA initialisation, 30 iterations, drawn at 8 pixels per node.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "
import json, random
random.seed(11)
json.dump([[round(random.random(), 4) for _ in range(3)] for _ in range(500)], open('$work/colours.json', 'w'))
"
for topology in rectangular hexagonal toroidal; do
    case $topology in
        rectangular) flags=() ;;
        hexagonal) flags=(--topology hexagonal) ;;
        toroidal) flags=(--toroidal) ;;
    esac
    target/release/kohonen train --data "$work/colours.json" --grid 30x30 --iterations 30 \
        --mode batch --init pca "${flags[@]}" --models-dir "$work/models" \
        --name "options-$topology" >/dev/null
    target/release/kohonen render "options-$topology" --models-dir "$work/models" --scale 8 \
        --out "saved_plots/options-$topology.png" --force >/dev/null
done
