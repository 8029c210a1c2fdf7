#!/usr/bin/env bash
# Regenerate docs/results/*.txt (the tables on the docs' results page) from the benchmark scripts.
# Usage: bash benchmarks/update_docs_results.sh [name ...]   (default: all; takes about an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/results
mkdir -p "$out"
declare -A cmds=(
  [demo]="-m tensorly_das demo"
  [bench_updates]="benchmarks/bench_updates.py"
  [cp_synthetic]="benchmarks/cp_synthetic.py"
  [covid_cp_strength]="benchmarks/covid_cp_strength.py"
  [cp_swamps]="benchmarks/cp_swamps.py"
  [paper_covid_tucker]="benchmarks/paper_covid_tucker.py"
  [tt_synthetic]="benchmarks/tt_synthetic.py"
  [nn_digits]="benchmarks/nn_digits.py"
  [bench_torch_optim]="benchmarks/bench_torch_optim.py"
  [distributed_scaling]="benchmarks/distributed_scaling.py"
  [scale_cp]="benchmarks/scale_cp.py"
  [real_data]="benchmarks/real_data.py"
  [scale_cp_sweep]="benchmarks/scale_cp.py --sweep"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${!cmds[@]}")
for name in "${names[@]}"; do
  echo "running $name" >&2
  {
    echo "# produced by: python ${cmds[$name]}"
    echo "# code at commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- tensorly_das benchmarks || echo ' plus uncommitted changes'), $(date -u +%Y-%m-%d), $(nproc) CPUs"
    python -W ignore ${cmds[$name]} 2>&1 | grep -v '^WARNING:root:'
  } > "$out/$name.txt.tmp"
  mv "$out/$name.txt.tmp" "$out/$name.txt"
done
