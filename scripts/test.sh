#!/usr/bin/env bash
# Builds and tests blorc-gpu. The README's test command and .ci/run both call this.
#   scripts/test.sh            cpu, then python
#   scripts/test.sh cpu        CPU build (preset cpu), all CPU tests
#   scripts/test.sh python     the Python package: pip install ./python (and PyTorch) into the
#                              virtual environment build/venv, its pytest suite, and the README's
#                              Python example as written (BLORC_NO_TORCH=1: without PyTorch,
#                              whose tests then skip)
#   scripts/test.sh mpi        the mpi preset (BLORC_MPI, OpenMPI): all CPU tests, including
#                              the 2-rank `mpirun -np 2 blorc-gpu train` tests (label mpi)
#   scripts/test.sh sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh fallback   the CPU tests again on OpenBLAS's generic SSE3 (Prescott)
#                              kernels, which it falls back to on CPU models it does not know,
#                              and on the kernels blorc then selects
#   scripts/test.sh cuda-emu   the CUDA backend's sources built with g++ against the CPU
#                              emulation (cuda/emu), and its gpu tests under two schedules,
#                              then once more under AddressSanitizer and UBSan; and the Python
#                              suite against its libblorc.so when build/venv exists
#   scripts/test.sh cuda       configure and compile the cuda preset and run its CPU tests
#                              (the gpu-labelled tests run on GPU hosts: bench/gpu_check.sh)
#   scripts/test.sh install [BUILD]  install a build (default build/cpu) into a temporary
#                              prefix and train one epoch from an installed config by name
set -euo pipefail
cd "$(dirname "$0")/.."
# Configures and builds a preset and runs its tests not labelled gpu, when the tool it needs is
# installed (otherwise says so and succeeds: CI installs it, a user may not want it).
preset_tests() { # PRESET TOOL
  if ! command -v "$2" >/dev/null 2>&1; then
    echo "test.sh: $2 not found; skipping the $1 build"
    exit 0
  fi
  cmake --preset "$1"
  cmake --build --preset "$1"
  ctest --test-dir "build/$1" -LE gpu --output-on-failure
}
mode=${1:-default}
case "$mode" in
  default)
    "$0" cpu
    "$0" python
    ;;
  python)
    venv=build/venv
    mkdir -p build
    if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
    "$venv/bin/pip" install -q ./python pytest
    if [ "${BLORC_NO_TORCH:-0}" = 1 ]; then
      echo "test.sh: BLORC_NO_TORCH=1: PyTorch not installed, its tests skip"
    else
      "$venv/bin/pip" install -q torch
    fi
    # From build/, so that `import blorc` is the installed package, not python/blorc.
    (cd build && venv/bin/pytest -q -rs ../python/tests)
    # The README's Python example, as written, in a scratch directory.
    example=$(mktemp -d)
    sed -n '/^<!-- python-example -->$/,/^```$/p' README.md | sed '1,2d;$d' >"$example/example.py"
    test -s "$example/example.py"
    root=$PWD
    (cd "$example" && "$root/$venv/bin/python" example.py)
    rm -rf "$example"
    ;;
  mpi)
    preset_tests mpi mpirun # scripts/install-deps.sh installs OpenMPI
    ;;
  cpu | sanitize)
    cmake --preset "$mode"
    cmake --build --preset "$mode"
    # Serial on purpose: the suite takes seconds, and parallel test processes with OpenMP
    # thread pools on a 2-core machine spin against each other.
    ctest --preset "$mode"
    ;;
  fallback)
    cmake --preset cpu
    cmake --build --preset cpu
    OPENBLAS_CORETYPE=Prescott ctest --preset cpu
    # ... and on the kernels blorc selects when OpenBLAS falls back by itself, unless this
    # machine's environment pins the kernels (some CPUs crash or miscompute on OpenBLAS's
    # own choice): blorc never overrides that, so neither does the test.
    if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
      echo "test.sh: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE is set here; skipping the run on the kernels blorc would select"
    else
      BLORC_EMULATE_BLAS_FALLBACK=1 ctest --preset cpu
    fi
    ;;
  cuda-emu)
    found=0
    for d in /usr/local/cuda/include/cccl /usr/local/cuda/include /usr/include; do
      if [ -f "$d/thrust/version.h" ]; then found=1; fi
    done
    if [ $found = 0 ]; then
      echo "test.sh: no Thrust headers (the CUDA toolkit's CCCL); skipping the cuda-emu build"
      exit 0
    fi
    cmake --preset cuda-emu
    cmake --build --preset cuda-emu
    # Threads of a block in order, then shuffled: a result that depends on it is a race.
    BLORC_EMU_SCHEDULE=inorder ctest --test-dir build/cuda-emu -L gpu --output-on-failure
    BLORC_EMU_SCHEDULE=shuffled:7 ctest --test-dir build/cuda-emu -L gpu --output-on-failure
    # Once more under AddressSanitizer and UBSan: emulated device memory is host heap and
    # shared arrays have poisoned guards, so out-of-bounds kernel accesses are reported.
    cmake --preset cuda-emu-sanitize
    cmake --build --preset cuda-emu-sanitize --target blorc_gpu_tests
    BLORC_EMU_SCHEDULE=shuffled:3 ctest --test-dir build/cuda-emu-sanitize -L gpu --output-on-failure
    # The Python layer on the emulated CUDA backend (blorc.torch with device='cuda').
    if [ -x build/venv/bin/pytest ]; then
      (cd build && BLORC_LIBRARY="$PWD/cuda-emu/src/libblorc.so" venv/bin/pytest -q -rs \
        ../python/tests)
    else
      echo "test.sh: no build/venv (scripts/test.sh python makes it); the Python suite on the emulated CUDA backend skipped"
    fi
    ;;
  cuda)
    preset_tests cuda nvcc
    ;;
  install)
    build=${2:-build/cpu}
    prefix=$(mktemp -d)
    trap 'rm -rf "$prefix"' EXIT
    cmake --install "$build" --prefix "$prefix"
    "$prefix/bin/blorc-gpu" --version
    "$prefix/bin/blorc-gpu" train --config paper-piecewise --epochs 1 --set data.train=200 \
      --set data.val=20 --out "$prefix/run" | tail -1
    test -s "$prefix/run/W.npy"
    ;;
  *)
    echo "usage: scripts/test.sh [cpu|python|mpi|sanitize|fallback|cuda-emu|cuda|install [BUILD]]" >&2
    exit 2
    ;;
esac
