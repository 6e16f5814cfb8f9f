#!/usr/bin/env bash
# One prepared run on a CUDA machine, time-boxed (the GPU is lent for minutes, not hours):
#   1. training throughput of each alternating-optimisation step, CUDA and one CPU thread;
#   2. the full Table 1 (every row, physical twins, baseline sweeps, 3 seeds) on CUDA with
#      WORKERS processes sharing the GPU, and the clean row at an 80-epoch attacker budget (the
#      >= 70 % clean top-1 check), both in the background until the deadline;
#   3. meanwhile the CUDA tests (tests/learn/test_cuda.py, the sensor's CUDA test).
# Every finished Table 1 task is kept (OUT/*/tasks, packed into OUT/*.tgz) with its finish time,
# so a run cut by the deadline still gives per-task CUDA times and resumes elsewhere.
#
#   OUT=/tmp/gpu BUDGET_S=520 WORKERS=12 bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/canopic_gpu}
BUDGET_S=${BUDGET_S:-520}
WORKERS=${WORKERS:-12}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
start=$(date +%s)
left() { echo $(( BUDGET_S - ($(date +%s) - start) )); }
mkdir -p "$OUT"

echo "== environment"
{ nvidia-smi -L 2>&1; echo "cpus $(nproc)"
  $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__,
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"; } 2>&1 | tee "$OUT/env.log"

echo "== throughput (img/s, medians)"
timeout 90 $PY benchmarks/bench_training.py --device "$DEVICE" --steps 20 --repeats 3 2>&1 \
    | tee "$OUT/throughput.log"
timeout 60 $PY benchmarks/bench_training.py --device cpu --threads 1 --steps 5 --repeats 3 2>&1 \
    | tee -a "$OUT/throughput.log"

echo "== full Table 1 and clean row at 80 epochs, in the background ($(left) s left)"
t1=$(date +%s)
deadline=$(( $(left) - 30 ))
timeout -k 5 $deadline $PY -m canopic table1 --out "$OUT/full" --seeds 3 --workers "$WORKERS" \
    --threads 1 --device "$DEVICE" --quiet > "$OUT/full.log" 2>&1 &
full_pid=$!
timeout -k 5 $deadline $PY -m canopic table1 --out "$OUT/clean80" --seeds 3 --rows clean \
    --budget cnn_epochs=80 --blur-sigmas none --pixelate-blocks none --threads 1 \
    --device "$DEVICE" --quiet > "$OUT/clean80.log" 2>&1 &
clean_pid=$!

echo "== CUDA tests (beside the table; correctness only)"
timeout 240 $PY -m pytest -q -p no:cacheprovider tests/learn/test_cuda.py \
    "tests/sensor/test_pixel.py::test_cuda_matches_theory" 2>&1 | tee "$OUT/cuda_tests.log" | tail -n 25

wait $full_pid; echo "full table1: exit $? after $(( $(date +%s) - t1 )) s" | tee -a "$OUT/full.log"
wait $clean_pid; echo "clean80: exit $? after $(( $(date +%s) - t1 )) s" | tee -a "$OUT/clean80.log"
pkill -f multiprocessing.spawn 2>/dev/null
for run in full clean80; do
    echo "-- $run: finished tasks (seconds after the start of the table)"
    mkdir -p "$OUT/$run"
    ls -l --time-style=+%s "$OUT/$run/tasks" 2>/dev/null | awk -v t="$t1" 'NR > 1 {print $7, $6 - t}' \
        | tee "$OUT/$run/finish_times.txt"
    tail -n 4 "$OUT/$run.log"
    tar -C "$OUT" -czf "$OUT/$run.tgz" "$run" && rm -rf "${OUT:?}/$run"
done
ls -l "$OUT"
