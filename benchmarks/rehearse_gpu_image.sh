#!/usr/bin/env bash
# Rehearse, on a CPU machine that reaches a package index, what gpu_all.sh does on the GPU machine: a Python 3.12
# with the GPU image's packages (as its recipe lists them, at the newest versions the index has; JAX at the
# newest it has up to the image's 0.11.2; no PyTorch, whose CUDA wheels are gigabytes), the carried wheels
# installed beside them with `pip install --target` and found through PYTHONPATH, in a fresh clone of the
# repository (no generation cache, no results), then gpu_all.sh --small for each wheel group's stages.
# A stage that fails here will fail there, minutes of GPU time later.
#
# Usage: benchmarks/rehearse_gpu_image.sh PYTHON3.12 [GROUP ...]
#   GROUP: bench (stages tau pid tracks scaling; their PyTorch sides record 'not installed'), full-pid, full-tracks, full-tau
#          (default: all four). Work folder: $REHEARSE_DIR (default /tmp/hepnb-gpu-rehearsal); about 22 min on 2 cores.
set -euo pipefail
PY312=${1:?usage: $0 PYTHON3.12 [GROUP ...]}
shift
GROUPS_=("$@")
[[ ${#GROUPS_[@]} -gt 0 ]] || GROUPS_=(bench full-pid full-tracks full-tau)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${REHEARSE_DIR:-/tmp/hepnb-gpu-rehearsal}
version=$("$PY312" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[[ $version == 3.12 ]] || { echo "rehearse_gpu_image.sh: needs Python 3.12 (the image's), found $version" >&2; exit 2; }
mkdir -p "$WORK"
# The image's packages that the benchmarks and the studies import, and what they import in turn
# (.library/device/KINDS.md, "Python packages already there"; numpy at the image's version)
IMAGE=(numpy==2.5.2 "jax<=0.11.2" "jaxlib<=0.11.2" scipy pandas pyarrow scikit-learn matplotlib optax
       orbax-checkpoint chex tqdm pyyaml click cloudpickle fsspec jinja2 msgpack psutil sortedcontainers toolz
       packaging typing-extensions rich numba h5py humanize tensorstore etils absl-py ml-dtypes opt-einsum
       requests pillow attrs onnx onnx-ir onnxruntime onnxscript pygments markdown-it-py mdurl python-dateutil
       pytz tzdata six wrapt simplejson urllib3 xxhash protobuf)
if [[ ! -x $WORK/image/bin/python ]]; then
  "$PY312" -m venv "$WORK/image"
  "$WORK/image/bin/python" -m pip install -q "${IMAGE[@]}"
fi
rm -rf "$WORK/repo" && git clone -q "$REPO" "$WORK/repo"
FAILED=0
for group in "${GROUPS_[@]}"; do
  case $group in
    bench) stages=(tau pid tracks scaling) ;;
    full-pid|full-tracks|full-tau) stages=("$group") ;;
    *) echo "rehearse_gpu_image.sh: unknown group '$group' (bench full-pid full-tracks full-tau)" >&2; exit 2 ;;
  esac
  rm -rf "$WORK/whl-$group" "$WORK/site-$group" "$WORK/out-$group"
  PYTHON="$WORK/image/bin/python" "$REPO/benchmarks/gpu_wheels.sh" "$group" "$WORK/whl-$group" 2>&1 | grep -v '^WARNING' || true
  # as on the device machine (benchmarks/README.md)
  "$WORK/image/bin/python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site-$group" "$WORK/whl-$group"/*.whl
  (cd "$WORK/repo" && PYTHONPATH="$WORK/site-$group" PYTHON="$WORK/image/bin/python" \
     bash benchmarks/gpu_all.sh --small --budget-s 6000 --out "$WORK/out-$group" "${stages[@]}") || FAILED=1
done
grep -h '^== ' "$WORK"/out-*/all.log
# one record of the rehearsal: each group's environment and stages (gpu_all.sh's summary.json)
"$WORK/image/bin/python" - "$WORK" "${GROUPS_[@]}" <<'PY'
import json, subprocess, sys
from pathlib import Path
work, groups = Path(sys.argv[1]), sys.argv[2:]
commit = subprocess.run(["git", "-C", str(work / "repo"), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
out = {"what": "benchmarks/rehearse_gpu_image.sh: gpu_all.sh --small on a Python 3.12 copy of the GPU image's packages "
               "with only the carried wheels added (pip --target), in a fresh clone", "git_commit": commit,
       "groups": {g: json.loads((work / f"out-{g}" / "summary.json").read_text()) for g in groups
                  if (work / f"out-{g}" / "summary.json").is_file()}}
(work / "summary.json").write_text(json.dumps(out, indent=1))
print(f"summary: {work / 'summary.json'}")
PY
exit $FAILED
