#!/usr/bin/env bash
# Every GPU benchmark of issue 17 in one command, inside a time budget, for a session that is lent a GPU machine
# (one H200, 16 cores; Python 3.12 with its own JAX 0.11 and PyTorch): the benchmarks run with the image's JAX
# and PyTorch and record the versions they ran with; the missing packages come as wheels from .whl/
# (benchmarks/gpu_wheels.sh makes them).
#
# Usage: benchmarks/gpu_all.sh [--small] [--budget-s 470] [--out DIR] [STAGE ...]
#   stages (default: tau pid tracks scaling, in that order of priority):
#     tau      benchmarks/tau_train.py  SingleParTau vs weaver-core ParT (eager, torch.compile), MultiParTau plain vs
#              PCGrad, MFU from XLA's FLOPs, bf16, batch 12288
#     pid      benchmarks/pid_train.py  fit vs bare lax.scan (validation 1/5 of the training set), PyTorch
#     tracks   benchmarks/tracks_infer.py  ns/track at batch 16 k and 1 M (the models found in
#              results/<profile>/rkpinn_leaderboard/checkpoints; carry that folder to time the trained zoo)
#     scaling  benchmarks/scaling.py  Pythia generation and an equal-cost sweep at 1, 2, 4, 8, 16 workers (CPU)
#     full-pid | full-tracks | full-tau   `hepnb run <study> --profile full` (≤ 9 min each; `gpu_wheels.sh full-<study>`);
#              the run's folders stay in $SCRATCH (default /tmp/hepnb-gpu-all); its results.json and executed notebook
#              are copied to DIR as full-<study>.results.json and full-<study>.ipynb
#   --small     tiny sizes, to test the script on a CPU (each stage runs a few steps; time caps ten times longer)
#   --budget-s  stop starting stages when less than a stage's minimum is left (default 470 s: 8 minutes with margin)
#   --out       where the JSON and the log go (default: $OUT on the device machine, else benchmarks/results/gpu_all)
#
# On the device machine, in one call (carry .whl, and results/default/rkpinn_leaderboard/checkpoints if made):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#     .whl/*.whl && export PYTHONPATH=/tmp/site || exit; bash benchmarks/gpu_all.sh
# At most 8 files come back from $OUT: this writes summary.json, all.log and one JSON per stage.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
SMALL=0
BUDGET=470
DEST=${OUT:-$REPO/benchmarks/results/gpu_all}
STAGES=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --small) SMALL=1 ;;
    --budget-s) BUDGET=$2; shift ;;
    --out) DEST=$2; shift ;;
    tau|pid|tracks|scaling|full-pid|full-tracks|full-tau) STAGES+=("$1") ;;
    *) echo "gpu_all.sh: unknown argument '$1' (stages: tau pid tracks scaling full-pid full-tracks full-tau;" \
            "options: --small --budget-s S --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
[[ ${#STAGES[@]} -gt 0 ]] || STAGES=(tau pid tracks scaling)
[[ $BUDGET =~ ^[0-9]+$ ]] || { echo "gpu_all.sh: --budget-s must be whole seconds, found '$BUDGET'" >&2; exit 2; }
mkdir -p "$DEST"
LOG=$DEST/all.log
: > "$LOG"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$REPO PYTHONUNBUFFERED=1
START=$(date +%s)

# stage -> "minimum seconds worth starting | cap in seconds | command"
declare -A MIN CAP CMD
if [[ $SMALL == 1 ]]; then
  CMD[tau]="benchmarks/tau_train.py --small --batch 16 --batches 2 --epochs 1 --repeats 1 --torch-steps 1 --torch-modes eager --no-full-vmap"
  CMD[pid]="benchmarks/pid_train.py --steps 20 --epochs 2 --repeats 1 --torch-modes eager"
  CMD[tracks]="benchmarks/tracks_infer.py --n-tracks 2000 --batches 1024"
  CMD[scaling]="benchmarks/scaling.py --events 1000 --events-per-chunk 125 --max-workers 2 --sweep --sweep-tracks 2000 --sweep-epochs 2 --sweep-seeds 2 --sweep-folds 2 --sweep-sizes tiny"
  PROFILE=ci
else
  # sized from CPU measurements and the H100 figures of the first wave (issue 17's table)
  CMD[tau]="benchmarks/tau_train.py --batch 12288 --batches 20 --epochs 2 --repeats 2 --no-full-vmap --attention xla cudnn"
  CMD[pid]="benchmarks/pid_train.py --steps 2000 --epochs 3 --repeats 3"
  CMD[tracks]="benchmarks/tracks_infer.py --n-tracks 1048576 --batches 16384 1048576"
  # 1, 4 and 16 workers (each pinned to a core): generation ~43 s on one core (94 events/s/core here), 32 chunks
  # (2 per worker at 16); sweep of 16 equal tasks; ~150 s in all from this machine's per-core rates
  CMD[scaling]="benchmarks/scaling.py --events 4000 --events-per-chunk 125 --counts 1 4 16 --sweep --sweep-tracks 8000 --sweep-epochs 2 --sweep-seeds 4 --sweep-folds 4 --sweep-sizes tiny small"
  PROFILE=full
fi
MIN[tau]=120; CAP[tau]=260
MIN[pid]=45;  CAP[pid]=120
MIN[tracks]=20; CAP[tracks]=60
MIN[scaling]=90; CAP[scaling]=200
for study in pid tracks tau; do MIN[full-$study]=300; CAP[full-$study]=560; done
# --small runs on a CPU, often a shared one: the caps are the GPU's times ten
if [[ $SMALL == 1 ]]; then for stage in "${!CAP[@]}"; do CAP[$stage]=$((CAP[$stage] * 10)); done; fi
# $OUT on the device machine returns at most 8 files, none deeper than $OUT/a/b/: the runs write elsewhere and
# their results.json and executed notebook are copied back flat, after the stage
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/hepnb-gpu-all}
declare -A STUDY=([full-pid]=pid_ranges [full-tracks]=rkpinn_leaderboard [full-tau]=tau_multitask)
for stage in "${!STUDY[@]}"; do
  CMD[$stage]="-m hepnb.cli run ${STUDY[$stage]} --profile $PROFILE --output $SCRATCH/$stage --results-dir $SCRATCH/$stage"
done

"$PY" - "$DEST/summary.json" <<'EOF' >>"$LOG" 2>&1
import json, platform, subprocess, sys
from importlib import metadata
env = {"python": platform.python_version(), "machine": platform.machine()}
for name in ("jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda12-plugin", "flax", "optax", "numpy", "torch",
             "weaver-core", "dask", "distributed", "pythia8mc", "fastjet", "awkward"):
    try:
        env[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
try:
    import jax
    env["jax_devices"] = [str(d) for d in jax.devices()]
except Exception as exc:  # recorded, not fatal: the stages say what failed
    env["jax_devices"] = f"error: {exc}"
try:
    env["nvidia_smi"] = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.strip()
except (OSError, subprocess.SubprocessError):
    env["nvidia_smi"] = None
json.dump({"environment": env, "stages": []}, open(sys.argv[1], "w"), indent=1)
print(json.dumps(env, indent=1))
EOF

record() {  # stage rc seconds status
  "$PY" - "$DEST/summary.json" "$@" <<'EOF'
import json, sys
path, stage, rc, seconds, status, command = sys.argv[1:7]
summary = json.load(open(path))
summary["stages"].append({"stage": stage, "rc": int(rc), "seconds": int(seconds), "status": status,
                          "command": command})
json.dump(summary, open(path, "w"), indent=1)
EOF
}

FAILED=0
cd "$REPO"
for stage in "${STAGES[@]}"; do
  now=$(date +%s); left=$((BUDGET - (now - START)))
  cmd=${CMD[$stage]}
  [[ $stage == full-* ]] || cmd="$cmd --output $DEST/${stage}.json"
  if (( left < MIN[$stage] )); then
    echo "== $stage skipped: ${left} s left of the ${BUDGET} s budget, it needs ${MIN[$stage]} s" | tee -a "$LOG"
    record "$stage" 0 0 "skipped: ${left} s left, needs ${MIN[$stage]} s" "$PY $cmd"
    continue
  fi
  limit=$(( left < CAP[$stage] ? left : CAP[$stage] ))
  echo "== $stage (limit ${limit} s): $PY $cmd" | tee -a "$LOG"
  [[ $stage == full-* ]] && rm -rf "${SCRATCH:?}/$stage"  # no earlier run's results.json to copy back
  t0=$(date +%s)
  # the scaling benchmark runs CPU workers: keep 16 processes from each grabbing the GPU
  if [[ $stage == scaling ]]; then
    JAX_PLATFORMS=cpu timeout --kill-after=10 "$limit" $PY $cmd >>"$LOG" 2>&1; rc=$?
  else
    timeout --kill-after=10 "$limit" $PY $cmd >>"$LOG" 2>&1; rc=$?
  fi
  secs=$(( $(date +%s) - t0 ))
  if [[ $rc == 0 ]]; then status=ok; elif [[ $rc == 124 || $rc == 137 ]]; then status="timed out at ${limit} s"; else status="failed"; fi
  [[ $rc == 0 ]] || FAILED=1
  if [[ $stage == full-* ]]; then
    study=${STUDY[$stage]}
    cp "$SCRATCH/$stage/$PROFILE/$study/results.json" "$DEST/$stage.results.json" 2>/dev/null \
      || echo "== $stage: no results.json (a failed run writes none)" | tee -a "$LOG"
    for nb in "$SCRATCH/$stage/$study.ipynb" "$SCRATCH/$stage/$study.failed.ipynb"; do
      [[ -f $nb ]] && cp "$nb" "$DEST/$stage.ipynb"
    done
  fi
  echo "== $stage: $status (rc $rc, ${secs} s)" | tee -a "$LOG"
  record "$stage" "$rc" "$secs" "$status" "$PY $cmd"
done
echo "== total $(( $(date +%s) - START )) s; summary in $DEST/summary.json" | tee -a "$LOG"
exit $FAILED
