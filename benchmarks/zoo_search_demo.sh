#!/usr/bin/env bash
# Two rl-zoo3 worker processes share one Optuna study through a journal file.
#
#   bash benchmarks/zoo_search_demo.sh [trials per worker, default 4] [steps per trial, default 5000]
#
# Needs sb3-sarsa installed. Each worker runs its own trials; the study holds them all, and no
# trial number appears in both workers' logs. Output: docs/research/ZOO_SEARCH.md quotes one run.
set -euo pipefail
trials=${1:-4}
steps=${2:-5000}
out=logs/zoo_search_demo
rm -rf "$out"
mkdir -p "$out"
for worker in 1 2; do
    rl_zoo3 train --algo sarsa --env CartPole-v1 -optimize --n-trials "$trials" --n-jobs 1 -n "$steps" \
        --eval-episodes 5 --n-evaluations 2 --storage "$out/study.log" --study-name sarsa_cartpole_demo \
        --seed "$worker" -f "$out/worker$worker" > "$out/worker$worker.txt" 2>&1 &
done
wait
for worker in 1 2; do
    grep -o "Trial [0-9]* finished with value: [-0-9.]*\|Trial [0-9]* pruned" "$out/worker$worker.txt" | sed "s/^/worker $worker: /"
done
python - "$out/study.log" <<'PY'
import sys

import optuna

storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(sys.argv[1]))
study = optuna.load_study(study_name="sarsa_cartpole_demo", storage=storage)
states = [trial.state.name for trial in study.trials]
print(f"study sarsa_cartpole_demo: {len(study.trials)} trials, {states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned")
print(f"best: trial {study.best_trial.number}, value {study.best_value}, params {study.best_params}")
PY
