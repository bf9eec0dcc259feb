// CPU emulation of a CUDA kernel launch (test infrastructure for the cuda-emu build, issue
// 14): every block of the grid runs; the threads of a block are cooperatively scheduled
// fibers with their own stacks, so that __syncthreads() is a real barrier and the warp
// shuffles exchange values among the 32 lanes of a warp at a warp barrier.
//
// Made loud, as a GPU would fail or worse: a block barrier that some live threads reach and
// others never do (they exited, or wait at a warp barrier instead), and a shuffle whose mask
// names a lane that exited or waits elsewhere, stop the launch with a message naming the
// kernel, the block and the threads. The order in which a block's threads run between two
// barriers, and the order of the blocks, is a setting: a kernel whose result depends on it
// has a race.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

namespace blorc_emu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  unsigned count() const { return x * y * z; }
};

// The order of a block's runnable threads in each round between barriers; blocks run in the
// same kind of order (shuffled ones from the seed).
enum class Schedule { InOrder, Reversed, Shuffled };

struct LaunchOptions {
  Schedule schedule = Schedule::InOrder;
  uint64_t seed = 1;
  size_t stack_bytes = 256 * 1024;  // per thread: kernels keep small arrays on their stacks
};

// The shared memory a launch may use, as the runtime counts it: without an opt-in, static
// plus dynamic at most 48 KB; with cudaFuncSetAttribute(MaxDynamicSharedMemorySize, A),
// dynamic at most A and static plus A at most the device's opt-in limit (H200: 227 KB).
struct SharedLimits {
  size_t dynamic_attribute = 48 * 1024;  // the kernel's MaxDynamicSharedMemorySize
  bool opted_in = false;                 // set by cudaFuncSetAttribute
  size_t optin_limit = 227 * 1024;
};

enum class Failure { None, Divergence, SharedMemory };

// Runs body once per thread of the grid (body reads thread_idx() and friends). Returns true,
// or false with *error set to one line naming the kernel, the block and the threads when a
// barrier or a shuffle diverged (*failure = Divergence), or naming the array when the block's
// shared memory exceeds limits or a thread wrote outside a shared array (SharedMemory).
// Shared memory, static and dynamic (shared_bytes), starts every block filled with 0xff bytes
// (NaN doubles, -1 ints), as uninitialised memory would hold anything; each array has guard
// bytes on both sides, checked when the block ends (and poisoned under AddressSanitizer).
bool launch(const char *kernel, Dim3 grid, Dim3 block, size_t shared_bytes,
            const std::function<void()> &body, const LaunchOptions &opts, std::string *error,
            const SharedLimits &limits = SharedLimits{}, Failure *failure = nullptr);

// Inside a launch: the calling thread's coordinates and the launch's shape.
const Dim3 &thread_idx();
const Dim3 &block_idx();
const Dim3 &block_dim();
const Dim3 &grid_dim();
// The block's dynamic shared memory (extern __shared__), aligned to 16 bytes.
void *dynamic_shared();
// The block's copy of a static __shared__ array (BLORC_SHARED in cuda/launch.h): site is the
// declaration's unique address, name its name in messages. The first thread to reach the
// declaration allocates it; a block whose static and dynamic shared memory exceed the limits
// fails here, naming the arrays.
void *static_shared(const void *site, const char *name, size_t bytes);

// __syncthreads(): waits until every live thread of the block arrives.
void sync_threads();
// __syncwarp(mask): waits until every lane named in mask arrives.
void sync_warp(unsigned mask);

namespace detail {
// A warp exchange: every lane in mask deposits 8 bytes, waits for the others, and gets the
// value of lane src(lane) (its own where src is out of range). kind names the intrinsic in
// error messages.
uint64_t exchange(const char *kind, unsigned mask, uint64_t value, int src_lane);
int lane();

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof v);
  return b;
}
template <typename T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}
}  // namespace detail

// __shfl_down_sync: the value of lane + delta within segments of width lanes.
template <typename T>
T shfl_down(unsigned mask, T v, unsigned delta, int width = 32) {
  int l = detail::lane(), seg = l - l % width, src = l + (int)delta;
  if (src >= seg + width) src = l;
  return detail::from_bits<T>(detail::exchange("__shfl_down_sync", mask, detail::to_bits(v), src));
}

// __shfl_xor_sync: the value of lane ^ lane_mask within segments of width lanes.
template <typename T>
T shfl_xor(unsigned mask, T v, int lane_mask, int width = 32) {
  int l = detail::lane(), seg = l - l % width, src = l ^ lane_mask;
  if (src < seg || src >= seg + width) src = l;
  return detail::from_bits<T>(detail::exchange("__shfl_xor_sync", mask, detail::to_bits(v), src));
}

}  // namespace blorc_emu
