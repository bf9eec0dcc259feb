// The emulated device behind cuda/emu/include/cuda_runtime.h: its allocation table, memory
// limit, last error, per-kernel attributes and the schedule launches run under; and
// make_launcher, which BLORC_LAUNCH (cuda/launch.h) expands to in the cuda-emu build.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "include/cuda_runtime.h"

namespace blorc_emu {

// True when p lies in (or one past the end of) a live cudaMalloc allocation.
bool device_owns(const void *p);
// Emulated device memory (141 GB by default, or BLORC_EMU_DEVICE_MEMORY bytes); tests lower it
// to exhaust it. Allocations beyond it fail with cudaErrorMemoryAllocation.
void set_device_memory(size_t bytes);
// Records e as the last error with a message, printed on stderr (a launch that a GPU would
// fail or hang on is loud); returns e.
cudaError_t record_error(cudaError_t e, const std::string &message);
// The message of the last recorded error ("" after cudaGetLastError cleared it).
std::string last_error_message();
// The shared memory a kernel may use: 48 KB in all, or what it opted into with
// cudaFuncSetAttribute(MaxDynamicSharedMemorySize).
SharedLimits shared_limits(const void *kernel);
// What the device did, counted from the start of the process: tests compare two readings to
// show, for example, that a stage neither allocates nor waits for the device.
struct Counters {
  long long mallocs = 0;      // cudaMalloc calls
  long long syncs = 0;        // host waits: cudaStreamSynchronize, blocking cudaMemcpy
  long long copies_h2d = 0;   // cudaMemcpy(Async) host to device
  long long copies_d2h = 0;   // cudaMemcpy(Async) device to host
  long long launches = 0;     // kernel launches that ran
  long long watched = 0;      // host-device copies (either way) of exactly watch_copies' bytes
  long long watched_h2d = 0;  // those of them from host to device
};
// Counts, from now on, the host-device copies of exactly bytes bytes (Counters::watched): the
// test that training moves no W between host and device watches k n doubles. 0 stops.
void watch_copies(size_t bytes);
Counters counters();
size_t device_memory_used();
// Fault injection: the next launch of the kernel named kernel faults as a GPU kernel that
// reads a bad address would: the launch itself succeeds, the kernel does not complete, and
// from the next synchronising call (stream sync, blocking copy, a Thrust algorithm) on, every
// call reports cudaErrorLaunchFailure: the error is sticky, as it is on a GPU.
void inject_fault(const std::string &kernel);
// Makes a later call of the cuSOLVER routine (after skip calls) write value to its devInfo, as
// a factorisation that breaks down or a bad argument would (the tests of every info check).
void inject_info(const std::string &routine, int value, int skip = 0);
// cuSOLVER stand-ins: whether this call's devInfo is forced, and to what.
bool take_info(const char *routine, int *value);
// Clears a sticky fault, as cudaDeviceReset would (tests only; allocations are kept).
void clear_fault();
// True once a fault is pending or sticky; records and returns the sticky error if any.
cudaError_t surface_fault();
// An observed (sticky) fault, or cudaSuccess.
cudaError_t sticky_error();
// Counts a host wait that happens outside the runtime's own calls (Thrust's algorithms).
void note_sync();
// Launcher: whether this launch of kernel is the one to fault (consumes the injection).
bool take_fault(const char *kernel);
void count_launch();
// Schedule of every launch: BLORC_EMU_SCHEDULE=inorder|reversed|shuffled[:SEED] at first use,
// or set here (tests).
LaunchOptions launch_options();
void set_launch_options(const LaunchOptions &o);

constexpr size_t kDefaultDynamicShared = 48 * 1024;
constexpr size_t kOptinDynamicShared =
    227 * 1024;  // H200's cudaDevAttrMaxSharedMemoryPerBlockOptin

template <typename T>
bool host_pointer(const T &) {
  return false;
}
template <typename T>
bool host_pointer(T *p) {
  return p != nullptr && !device_owns(p);
}

template <typename... P>
class Launcher {
 public:
  Launcher(const char *name, void (*fn)(P...), dim3 grid, dim3 block, size_t smem,
           cudaStream_t stream)
      : name_(name), fn_(fn), grid_(grid), block_(block), smem_(smem) {
    (void)stream;  // streams are synchronous
  }
  template <typename... A>
  void operator()(A &&...args) const {
    std::tuple<P...> a(std::forward<A>(args)...);  // converted as a real launch converts them
    if (sticky_error() != cudaSuccess) {           // the context is broken: nothing runs
      record_error(cudaErrorLaunchFailure, std::string("kernel ") + name_ + ": after a fault");
      return;
    }
    if (!configuration_ok()) return;
    if (!pointers_ok(a, std::index_sequence_for<P...>{})) return;
    if (take_fault(name_)) return;  // "runs" and faults: reported at the next sync
    count_launch();
    std::string err;
    Failure why = Failure::None;
    if (!launch(
            name_, grid_, block_, smem_, [&] { std::apply(fn_, a); }, launch_options(), &err,
            shared_limits(reinterpret_cast<const void *>(fn_)), &why))
      // Too much shared memory is refused at launch; a diverged barrier or a write outside a
      // shared array is a fault (a GPU hangs or corrupts memory: we stop the launch).
      record_error(why == Failure::SharedMemory ? cudaErrorInvalidValue : cudaErrorLaunchFailure,
                   err);
  }

 private:
  bool configuration_ok() const {
    std::string at = std::string("kernel ") + name_ + ": ";
    unsigned threads = block_.x * block_.y * block_.z;
    if (grid_.x * grid_.y * grid_.z == 0 || threads == 0)
      return !record_error(cudaErrorInvalidConfiguration, at + "empty grid or block");
    if (threads > 1024 || block_.z > 64)
      return !record_error(cudaErrorInvalidConfiguration,
                           at + std::to_string(threads) + " threads per block, at most 1024");
    size_t cap = shared_limits(reinterpret_cast<const void *>(fn_)).dynamic_attribute;
    if (smem_ > cap)
      return !record_error(cudaErrorInvalidValue,
                           at + std::to_string(smem_) + " bytes of dynamic shared memory, " +
                               std::to_string(cap) +
                               " allowed (more needs cudaFuncSetAttribute, at most " +
                               std::to_string(kOptinDynamicShared) + ")");
    return true;
  }
  template <typename Tuple, size_t... I>
  bool pointers_ok(const Tuple &a, std::index_sequence<I...>) const {
    int bad = -1;
    ((bad < 0 && host_pointer(std::get<I>(a)) ? (void)(bad = (int)I) : (void)0), ...);
    if (bad < 0) return true;
    record_error(cudaErrorInvalidDevicePointer,
                 std::string("kernel ") + name_ + ": argument " + std::to_string(bad + 1) +
                     " is a pointer outside every cudaMalloc allocation (host memory?)");
    return false;
  }
  const char *name_;
  void (*fn_)(P...);
  dim3 grid_, block_;
  size_t smem_;
};

template <typename... P>
Launcher<P...> make_launcher(const char *name, void (*fn)(P...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream) {
  return Launcher<P...>(name, fn, grid, block, smem, stream);
}

}  // namespace blorc_emu
