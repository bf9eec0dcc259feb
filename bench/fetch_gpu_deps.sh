#!/usr/bin/env bash
# Downloads (here, with network) the Debian packages bench/gpu_check.sh needs on a GPU host
# that has nvcc, CMake and Python but none of our -dev packages and no network. They land in
# .deps/, which this script adds to .git/info/exclude so they are never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps
grep -qx '/.deps/' .git/info/exclude 2>/dev/null || echo '/.deps/' >> .git/info/exclude
cd .deps
apt-get download \
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev \
  liblapacke liblapacke-dev liblapack3 libblas3 libgfortran5 libtmglib3 \
  libgtest-dev googletest libinih1 libinih-dev libpng16-16 libpng-dev zlib1g-dev ninja-build \
  libboost-context-dev libboost-context1.74-dev libboost-context1.74.0 libboost1.74-dev libboost-dev
ls -la
