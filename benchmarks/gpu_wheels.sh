#!/usr/bin/env bash
# Download, on a machine that reaches PyPI, the wheels that benchmarks/gpu_all.sh installs on a GPU machine
# whose image has Python 3.12, JAX 0.11, PyTorch, NumPy, SciPy, pandas, pyarrow, scikit-learn, matplotlib, optax
# and orbax but none of the physics stack. Versions are those of the project's environment (pyproject.toml).
#
# Usage: benchmarks/gpu_wheels.sh [GROUP] [DIR]     (default: bench .whl)
#   bench:       what gpu_all.sh's benchmark stages import (flax, awkward, vector, particle, Pythia 8, FastJet,
#                Dask, weaver-core); about 37 MiB
#   full-pid, full-tracks, full-tau:
#                what `hepnb run <study> --profile full` imports there, one study per group (papermill and a
#                Jupyter kernel, mplhep, and the study's own: Dask, hist, xgboost-cpu, jax2onnx, Pythia 8, FastJet);
#                about 26, 15 and 57 MiB. All studies at once would be about 72 MiB, over the 64 MiB that travels
#                with one command.
# Each group was found by running gpu_all.sh --small on a Python 3.12 copy of the image's packages with only
# these wheels added, in a fresh clone (no generation cache): benchmarks/rehearse_gpu_image.sh.
# flax: the image's JAX is 0.11.2, which no longer has jax.experimental.hijax.HiPrimitive that flax 0.12.8 (this
# environment's, with JAX 0.10.2) needs at import; 0.12.10 and later require JAX >= 0.11.1. The newest 0.12
# (the project's range is < 0.13) is carried.
# DIR must be git-ignored (.gitignore ignores /.whl*/).
set -euo pipefail
GROUP=${1:-bench}
DIR=${2:-.whl}
PY=${PYTHON:-python3}
BENCH=(
  flax==0.12.12 treescope==0.1.10
  awkward==2.14.0 awkward-cpp==57 vector==1.9.0 particle==1.1.0 hepunits==2.4.7 lazy_importer==0.1.0
  pythia8mc==8.317.2 fastjet==3.5.2.0
  dask==2025.3.1 distributed==2025.3.1 partd==1.4.2 locket==1.0.0 zict==3.0.0 tblib==3.2.2 tornado==6.6.1
  weaver-core==0.5.3
)
# papermill, a Jupyter kernel and myst-nb's glue, the plotting style; flax (the image's is another version)
NOTEBOOK=(
  papermill==2.7.0 nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 jupyter_client==8.10.0 pyzmq==27.3.0
  jupyter_core==5.9.1 platformdirs==4.14.8 traitlets==5.16.1 comm==0.2.3 ipython==9.18.1 parso==0.8.7
  matplotlib_inline==0.2.2 prompt_toolkit==3.0.53 wcwidth==0.9.4 stack_data==0.6.3 executing==2.3.0
  asttokens==3.0.2 pure_eval==0.2.4 pexpect==4.9.0 ptyprocess==0.7.0 nest_asyncio==1.6.0 tornado==6.6.1
  fastjsonschema==2.22.3 jsonschema==4.26.0 jsonschema_specifications==2025.9.1 referencing==0.37.0
  rpds_py==2026.9.1 entrypoints==0.4.2 tenacity==9.2.1 ansicolors==1.1.8 myst_nb==1.4.0 docutils==0.21.2
  mplhep==1.3.3 mplhep_data==0.1.0 uhi==1.2.1 flax==0.12.12 treescope==0.1.10
)
DASK=(dask==2025.3.1 distributed==2025.3.1 partd==1.4.2 locket==1.0.0 zict==3.0.0 tblib==3.2.2)
HIST=(hist==2.12.1 boost_histogram==1.8.1 histoprint==2.7.1)
case $GROUP in
  bench) PKGS=("${BENCH[@]}") ;;
  full-pid) PKGS=("${NOTEBOOK[@]}" "${DASK[@]}" "${HIST[@]}" particle==1.1.0 hepunits==2.4.7 xgboost-cpu==3.2.0
                  jax2onnx==0.17.1) ;;
  full-tracks) PKGS=("${NOTEBOOK[@]}" jax2onnx==0.17.1) ;;
  full-tau) PKGS=("${NOTEBOOK[@]}" "${DASK[@]}" "${HIST[@]}" particle==1.1.0 hepunits==2.4.7 vector==1.9.0
                  awkward==2.14.0 awkward-cpp==57 pythia8mc==8.317.2 fastjet==3.5.2.0 xgboost-cpu==3.2.0) ;;
  *) echo "usage: $0 [bench|full-pid|full-tracks|full-tau] [DIR]; found group '$GROUP'" >&2; exit 2 ;;
esac
mkdir -p "$DIR"
for pkg in "${PKGS[@]}"; do
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$DIR" "$pkg" \
    || { echo "no cp312 x86-64 wheel for $pkg" >&2; exit 1; }
done
du -sh "$DIR"
