#!/usr/bin/env bash
# Builds and tests blorc-gpu. The README's test command and .ci/run both call this.
#   scripts/test.sh            CPU build (preset cpu), all CPU tests
#   scripts/test.sh sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh fallback   the CPU tests again on OpenBLAS's generic SSE3 (Prescott)
#                              kernels, which it falls back to on CPU models it does not know,
#                              and on the kernels blorc then selects
#   scripts/test.sh cuda-emu   the CUDA backend's sources built with g++ against the CPU
#                              emulation (cuda/emu), and its gpu tests under two schedules,
#                              then once more under AddressSanitizer and UBSan
#   scripts/test.sh cuda       configure and compile the cuda preset and run its CPU tests
#                              (the gpu-labelled tests run on GPU hosts: bench/gpu_check.sh)
#   scripts/test.sh install [BUILD]  install a build (default build/cpu) into a temporary
#                              prefix and train one epoch from an installed config by name
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-cpu}
case "$mode" in
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
    ;;
  cuda)
    if ! command -v nvcc >/dev/null 2>&1; then
      echo "test.sh: nvcc not found; skipping the CUDA build"
      exit 0
    fi
    cmake --preset cuda
    cmake --build --preset cuda
    ctest --test-dir build/cuda -LE gpu --output-on-failure
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
    echo "usage: scripts/test.sh [cpu|sanitize|fallback|cuda-emu|cuda|install [BUILD]]" >&2
    exit 2
    ;;
esac
