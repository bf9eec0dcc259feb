#!/usr/bin/env bash
# Builds and tests blorc-gpu. The README's test command and .ci/run both call this.
#   scripts/test.sh            CPU build (preset cpu), all CPU tests
#   scripts/test.sh sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh cuda       configure and compile the cuda preset (compile and link only
#                              where no GPU is present; GPU tests run via bench/gpu_check.sh)
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
  cuda)
    if ! command -v nvcc >/dev/null 2>&1; then
      echo "test.sh: nvcc not found; skipping the CUDA build"
      exit 0
    fi
    cmake --preset cuda
    cmake --build --preset cuda
    ;;
  *)
    echo "usage: scripts/test.sh [cpu|sanitize|cuda]" >&2
    exit 2
    ;;
esac
