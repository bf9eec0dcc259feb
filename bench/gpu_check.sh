#!/usr/bin/env bash
# GPU check, run on a host with an NVIDIA GPU (the device tool; see DEVELOPERS.md):
# builds the cuda preset, runs the gpu tests, then compute-sanitizer (memcheck, racecheck,
# synccheck, initcheck) on the gpu tests at small sizes, then the GPU-versus-CPU benchmark at
# n = 64, B = 100 and B = 1000, and prints a short table last. The real GPU judges what the
# cuda-emu build cannot see: memory ordering without barriers, library numerics, speed. Debian packages fetched beforehand
# by bench/fetch_gpu_deps.sh (.deps/*.deb) are unpacked into /tmp/deps, never into /.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
nvcc --version | tail -1
extra=()
if ls .deps/*.deb >/dev/null 2>&1; then
  mkdir -p /tmp/deps
  for f in .deps/*.deb; do dpkg -x "$f" /tmp/deps; done
  arch=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
  D=/tmp/deps/usr
  export PATH="$D/bin:$PATH"
  export LD_LIBRARY_PATH="$D/lib/$arch/openblas-openmp:$D/lib/$arch:${LD_LIBRARY_PATH:-}"
  export PKG_CONFIG_PATH="$D/lib/$arch/pkgconfig:$D/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR=/tmp/deps
  # The unpacked tree keeps Debian's alternatives as dangling links: point them at the files.
  ln -sf "$D/lib/$arch/openblas-openmp/libblas.so.3" "$D/lib/$arch/libblas.so.3"
  ln -sf "$D/lib/$arch/openblas-openmp/liblapack.so.3" "$D/lib/$arch/liblapack.so.3"
  extra=(-DCMAKE_PREFIX_PATH="$D" -DBLORC_OPENBLAS_DIR="$D/lib/$arch/openblas-openmp"
         -DBLORC_CBLAS_INCLUDE="$D/include/$arch/openblas-openmp"
         -DBLORC_LAPACKE_INCLUDE="$D/include" -DBLORC_LAPACKE_LIB="$D/lib/$arch/liblapacke.so"
         -DGTest_DIR="$D/lib/$arch/cmake/GTest")
fi
gen=()
command -v ninja >/dev/null || gen=(-G "Unix Makefiles")
t0=$(date +%s)
cmake -S . -B build/gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBLORC_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 "${extra[@]}" > build-gpu-configure.log 2>&1 \
  || { tail -30 build-gpu-configure.log; exit 1; }
cmake --build build/gpu -j 16 > build-gpu.log 2>&1 || { grep -E "error" build-gpu.log | head -30; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
mkdir -p bench/results
# Time limits keep the whole script under 6 minutes and its table last, whatever hangs;
# fewer OpenMP threads per test process, since ctest runs several at once.
(cd build/gpu && OMP_NUM_THREADS=4 timeout 100 ctest -L gpu --output-on-failure -j 4) > gpu-tests.log 2>&1
tests_rc=$?
grep -E "tests passed|tests failed|\(Failed\)|no CUDA device" gpu-tests.log | sort | uniq -c | head -40
# compute-sanitizer at small sizes: each tool slows kernels 10-100x.
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
small='Sizes/GpuParity.*/n16_k32_B7:GpuDefects.SecondAdmm*:GpuDefects.JacobiSvdConverges*:Shapes/GpuOperator.*/cs_n16_k16:Sizes/GpuSvdVariants.*/n16_k24'
sanitizer_rc=0
for tool in memcheck racecheck synccheck initcheck; do
  OMP_NUM_THREADS=4 timeout 25 "$san" --tool $tool --error-exitcode 3 \
    build/gpu/tests/blorc_gpu_tests --gtest_filter="$small" > sanitizer-$tool.log 2>&1
  rc=$?
  [ $rc = 0 ] || sanitizer_rc=$rc
  echo "compute-sanitizer $tool: exit $rc, $(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' sanitizer-$tool.log || echo 'no summary (timeout?)')"
  grep -m5 -E '^========= (Invalid|Race|Barrier|Uninitialized|Program hit)' sanitizer-$tool.log
done
(cd build/gpu && OMP_NUM_THREADS=2 timeout 30 ctest -LE gpu -j 8) > cpu-tests.log 2>&1
grep -E "tests passed|tests failed" cpu-tests.log
B="build/gpu/blorc-gpu bench"
{
  for batch in 100 1000; do
    for v in persistent gemm; do
      echo "-- n=64 k=64 batch=$batch, fixed 2000 iterations, ADMM variant $v"
      timeout 20 $B --device all --n 64 --k 64 --batch $batch --iters 2000 --fixed --repeat 5 --variant $v
    done
  done
  # A shared forward operator (issue 16): compressed sensing, m = n/2 (the closed form's QR).
  echo "-- n=64 k=64 batch=100, fixed 2000 iterations, operator cs:32"
  timeout 20 $B --device all --n 64 --k 64 --batch 100 --iters 2000 --fixed --repeat 5 --lr 0 \
    --operator cs:32
  echo "-- n=64 k=64 batch=100, fixed 2000 iterations, operator inpaint:0.3 (per-sample factors)"
  timeout 20 $B --device all --n 64 --k 64 --batch 100 --iters 2000 --fixed --repeat 5 --lr 0 \
    --operator inpaint:0.3 --ridge 1e-3
  # Stage 4's GPU variants (issue 19): the Jacobi kernel, the fast path (geqrf/orgqr of W^T,
  # geqrfBatched per sample), cuSOLVER (gesvdjBatched up to 32, the Gram matrices' syevBatched
  # beyond, with its fallback count) and auto (the flop estimate's pick), at n = 32 and 64, on
  # the GPU alone (the svd row is the comparison); the CPU's auto beside the GPU's once each.
  for nk in 32 64; do
    for v in jacobi fast cusolver; do
      echo "-- n=$nk k=$nk batch=1000, fixed 2000 iterations, stage 4 $v (GPU only)"
      timeout 15 $B --device cuda --n $nk --k $nk --batch 1000 --iters 2000 --fixed --repeat 5 --svd $v
    done
    echo "-- n=$nk k=$nk batch=1000, fixed 2000 iterations, stage 4 auto"
    timeout 20 $B --device all --n $nk --k $nk --batch 1000 --iters 2000 --fixed --repeat 5 --svd auto
  done
} > bench-gpu.txt 2>&1
echo
echo "== table: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(date -u +%Y-%m-%d)"
echo "   (median ms per minibatch stage; ratio = CPU over GPU, same process, same data)"
cat bench-gpu.txt
echo "gpu tests exit code: $tests_rc; compute-sanitizer: $sanitizer_rc"
