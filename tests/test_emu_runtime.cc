// The emulated CUDA runtime (cuda/emu/include/cuda_runtime.h, cuda/emu/runtime.cc) and the
// checked launch behind BLORC_LAUNCH: kernels written as for nvcc run with their results, and
// each misuse the runtime reports on a GPU (or that a GPU would fault on) comes back as the
// runtime's error code with a message naming the kernel.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../cuda/launch.h"

namespace {

__global__ void axpy(int n, double a, const double *x, double *y) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    y[i] += a * x[i];
}

// admm.cu's block sum: warp shuffles, then one value per warp through static shared memory.
__device__ double block_sum(double v, double *red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; w++) s += red[w];
    red[32] = s;
  }
  __syncthreads();
  return red[32];
}

__global__ void row_sums(int n, const double *X, double *out) {
  BLORC_SHARED(double, red, 33);
  double v = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) v += X[(size_t)blockIdx.x * n + i];
  double s = block_sum(v, red);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

__global__ void uses_dynamic(double *out) {
  double *sm = static_cast<double *>(blorc_emu::dynamic_shared());
  sm[threadIdx.x] = threadIdx.x;
  __syncthreads();
  if (threadIdx.x == 0) out[0] = sm[blockDim.x - 1];
}

__global__ void diverges(double *out) {
  if (threadIdx.x >= 8) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

template <typename T>
T *device_copy(const std::vector<T> &h) {
  T *d = nullptr;
  EXPECT_EQ(cudaMalloc(&d, h.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return d;
}

template <typename T>
std::vector<T> host_copy(const T *d, size_t count) {
  std::vector<T> h(count);
  EXPECT_EQ(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

class EmuRuntime : public ::testing::Test {
 protected:
  void SetUp() override { (void)cudaGetLastError(); }
  void TearDown() override {
    blorc_emu::set_launch_options(blorc_emu::LaunchOptions{});
    (void)cudaGetLastError();
  }
};

TEST_F(EmuRuntime, KernelsRunWithTheirResults) {
  const int n = 1000;
  std::vector<double> x(n), y(n);
  for (int i = 0; i < n; i++) x[i] = i, y[i] = 1;
  double *dx = device_copy(x), *dy = device_copy(y);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  BLORC_LAUNCH(axpy, 3, 128, 0, s)(n, 2.0, dx, dy);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess) << blorc_emu::last_error_message();
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  std::vector<double> got = host_copy(dy, n);
  for (int i = 0; i < n; i++) EXPECT_EQ(got[i], 1 + 2.0 * i) << i;
  cudaStreamDestroy(s);
  cudaFree(dx), cudaFree(dy);
}

TEST_F(EmuRuntime, SharedMemoryReductionsAgreeUnderEverySchedule) {
  const int rows = 4, n = 300;
  std::vector<double> X(rows * n);
  for (size_t i = 0; i < X.size(); i++) X[i] = 0.25 * (double)(i % 13);
  double *dX = device_copy(X), *dout = nullptr;
  ASSERT_EQ(cudaMalloc(&dout, rows * sizeof(double)), cudaSuccess);
  std::vector<double> first;
  for (blorc_emu::Schedule sch : {blorc_emu::Schedule::InOrder, blorc_emu::Schedule::Reversed,
                                  blorc_emu::Schedule::Shuffled}) {
    blorc_emu::LaunchOptions o;
    o.schedule = sch;
    blorc_emu::set_launch_options(o);
    BLORC_LAUNCH(row_sums, rows, 96, 0, nullptr)(n, dX, dout);  // 3 warps, the last partial
    ASSERT_EQ(cudaGetLastError(), cudaSuccess) << blorc_emu::last_error_message();
    std::vector<double> got = host_copy(dout, rows);
    for (int r = 0; r < rows; r++) {
      double want = 0;
      for (int i = 0; i < n; i++) want += X[r * n + i];
      EXPECT_NEAR(got[r], want, 1e-12 * want);
    }
    if (first.empty()) first = got;
    EXPECT_EQ(got, first) << "device results must not depend on the schedule";
  }
  cudaFree(dX), cudaFree(dout);
}

TEST_F(EmuRuntime, HostPointerArgumentIsNamed) {
  std::vector<double> host(10), y(10);
  double *dy = device_copy(y);
  BLORC_LAUNCH(axpy, 1, 32, 0, nullptr)(10, 1.0, host.data(), dy);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevicePointer);
  BLORC_LAUNCH(axpy, 1, 32, 0, nullptr)(10, 1.0, dy, host.data());
  EXPECT_NE(blorc_emu::last_error_message().find("kernel axpy: argument 4"), std::string::npos)
      << blorc_emu::last_error_message();
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevicePointer);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "cudaGetLastError clears the error";
  cudaFree(dy);
}

TEST_F(EmuRuntime, LaunchConfigurationsAreChecked) {
  double *d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 4096 * sizeof(double)), cudaSuccess);
  BLORC_LAUNCH(uses_dynamic, 1, 1025, 0, nullptr)(d);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  BLORC_LAUNCH(uses_dynamic, 0, 32, 0, nullptr)(d);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  BLORC_LAUNCH(uses_dynamic, 1, 32, 64 * 1024, nullptr)(d);  // above 48 KB, not opted in
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(
      cudaFuncSetAttribute(uses_dynamic, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
      cudaErrorInvalidValue);  // above the H200's 227 KB opt-in limit
  (void)cudaGetLastError();
  ASSERT_EQ(
      cudaFuncSetAttribute(uses_dynamic, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
      cudaSuccess);
  BLORC_LAUNCH(uses_dynamic, 1, 32, 64 * 1024, nullptr)(d);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << blorc_emu::last_error_message();
  EXPECT_EQ(host_copy(d, 1)[0], 31.0);
  cudaFree(d);
}

TEST_F(EmuRuntime, DivergentBarrierFailsTheLaunch) {
  double *d = nullptr;
  ASSERT_EQ(cudaMalloc(&d, 32 * sizeof(double)), cudaSuccess);
  BLORC_LAUNCH(diverges, 1, 32, 0, nullptr)(d);
  std::string msg = blorc_emu::last_error_message();
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_NE(msg.find("kernel diverges, block (0,0,0): divergent __syncthreads"), std::string::npos)
      << msg;
  cudaFree(d);
}

TEST_F(EmuRuntime, DeviceMemoryRunsOutAtItsSize) {
  blorc_emu::set_device_memory(1 << 20);
  void *a = nullptr, *b = nullptr;
  EXPECT_EQ(cudaMalloc(&a, 600 << 10), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&b, 600 << 10), cudaErrorMemoryAllocation);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(cudaFree(a), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&b, 600 << 10), cudaSuccess) << "freed memory is available again";
  cudaFree(b);
  blorc_emu::set_device_memory(141ull << 30);
}

TEST_F(EmuRuntime, CopiesAreCheckedAgainstTheirKind) {
  double *d = nullptr;
  std::vector<double> h(8);
  ASSERT_EQ(cudaMalloc(&d, 8 * sizeof(double)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(h.data(), h.data() + 4, 4 * sizeof(double), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);  // the destination is host memory
  EXPECT_EQ(cudaMemcpy(d, h.data(), 9 * sizeof(double), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);  // past the end of the allocation
  EXPECT_EQ(cudaMemcpy(h.data(), d, 8 * sizeof(double), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);  // kind reversed
  EXPECT_EQ(cudaMemcpy(d + 4, h.data(), 4 * sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaFree(h.data()), cudaErrorInvalidDevicePointer);
  (void)cudaGetLastError();
  cudaFree(d);
}

}  // namespace
