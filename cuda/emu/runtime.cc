// The emulated device (emu_device.h) and the CUDA runtime calls of include/cuda_runtime.h.
// One device per process, as the runtime has: its state is the emulated hardware, kept in one
// struct behind a mutex.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "emu_device.h"

struct blorc_emu_stream {
  unsigned flags;
};
struct blorc_emu_event {
  unsigned flags;
  bool recorded;
};

namespace blorc_emu {
namespace {

struct DeviceState {
  std::mutex mu;
  std::map<const char *, size_t> allocations;  // base -> bytes
  size_t used = 0, capacity = 141ull << 30;
  cudaError_t last = cudaSuccess;
  std::string last_message;
  std::map<const void *, size_t> dynamic_shared;  // kernel -> opted-in bytes
  bool options_read = false;
  LaunchOptions options;
  Counters counters;
  size_t watched_bytes = 0;  // watch_copies
  std::string fault_kernel;  // the next launch of this kernel faults
  bool pending = false;      // a kernel faulted; not yet observed by the host
  bool sticky = false;       // observed: every call fails from now on
  std::string info_routine;  // inject_info: the routine, the calls left to skip, the value
  int info_skip = 0, info_value = 0;
};

DeviceState &dev() {
  static DeviceState *d = [] {
    DeviceState *s = new DeviceState;  // never destroyed: kernels may run in static teardown
    if (const char *m = getenv("BLORC_EMU_DEVICE_MEMORY")) s->capacity = strtoull(m, nullptr, 10);
    return s;
  }();
  return *d;
}

// The allocation holding p (or ending at p), or allocations.end().
std::map<const char *, size_t>::iterator find(DeviceState &d, const void *p) {
  const char *c = static_cast<const char *>(p);
  auto it = d.allocations.upper_bound(c);
  if (it == d.allocations.begin()) return d.allocations.end();
  --it;
  return c <= it->first + it->second ? it : d.allocations.end();
}

bool owns_range(DeviceState &d, const void *p, size_t bytes) {
  auto it = find(d, p);
  return it != d.allocations.end() &&
         static_cast<const char *>(p) + bytes <= it->first + it->second;
}

}  // namespace

bool device_owns(const void *p) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return find(d, p) != d.allocations.end();
}

void set_device_memory(size_t bytes) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.capacity = bytes;
}

cudaError_t record_error(cudaError_t e, const std::string &message) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.last = e;
  d.last_message = message;
  fprintf(stderr, "blorc_emu: %s (%s)\n", message.c_str(), cudaGetErrorString(e));
  return e;
}

std::string last_error_message() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.last_message;
}

SharedLimits shared_limits(const void *kernel) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  SharedLimits l;
  l.optin_limit = kOptinDynamicShared;
  auto it = d.dynamic_shared.find(kernel);
  if (it != d.dynamic_shared.end()) l.dynamic_attribute = it->second, l.opted_in = true;
  return l;
}

void watch_copies(size_t bytes) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.watched_bytes = bytes;
}

static bool watching(size_t bytes) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.watched_bytes != 0 && d.watched_bytes == bytes;
}

Counters counters() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.counters;
}

size_t device_memory_used() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.used;
}

void inject_fault(const std::string &kernel) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.fault_kernel = kernel;
}

void inject_info(const std::string &routine, int value, int skip) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.info_routine = routine, d.info_value = value, d.info_skip = skip;
}

bool take_info(const char *routine, int *value) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  if (d.info_routine.empty() || d.info_routine != routine) return false;
  if (d.info_skip-- > 0) return false;
  d.info_routine.clear();
  *value = d.info_value;
  return true;
}

void clear_fault() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.fault_kernel.clear();
  d.pending = d.sticky = false;
  if (d.last == cudaErrorLaunchFailure) d.last = cudaSuccess;
}

cudaError_t surface_fault() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  if (d.pending) d.pending = false, d.sticky = true;
  if (!d.sticky) return cudaSuccess;
  d.last = cudaErrorLaunchFailure;
  return cudaErrorLaunchFailure;
}

bool take_fault(const char *kernel) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  if (d.fault_kernel.empty() || d.fault_kernel != kernel) return false;
  d.fault_kernel.clear();
  d.pending = true;
  fprintf(stderr, "blorc_emu: kernel %s faults (injected); reported at the next sync\n", kernel);
  return true;
}

void count_launch() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.counters.launches++;
}

// A fault already observed fails every call at once (pending ones wait for a sync).
cudaError_t sticky_error() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.sticky ? cudaErrorLaunchFailure : cudaSuccess;
}

static void count(long long Counters::*field) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.counters.*field += 1;
}

void note_sync() {
  count(&Counters::syncs);
}

LaunchOptions launch_options() {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  if (!d.options_read) {
    d.options_read = true;
    if (const char *s = getenv("BLORC_EMU_SCHEDULE")) {
      if (!strncmp(s, "reversed", 8)) d.options.schedule = Schedule::Reversed;
      if (!strncmp(s, "shuffled", 8)) d.options.schedule = Schedule::Shuffled;
      if (const char *colon = strchr(s, ':')) d.options.seed = strtoull(colon + 1, nullptr, 10);
    }
  }
  return d.options;
}

void set_launch_options(const LaunchOptions &o) {
  DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.options_read = true;
  d.options = o;
}

}  // namespace blorc_emu

using blorc_emu::dev;

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
  *device = 0;
  return cudaSuccess;
}

// One emulated device: ordinal 0 only, as the runtime answers for a device it does not have.
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
  if (device != 0)
    return blorc_emu::record_error(cudaErrorInvalidValue, "device " + std::to_string(device));
  if (attr != cudaDevAttrMaxSharedMemoryPerBlockOptin)
    return blorc_emu::record_error(cudaErrorInvalidValue,
                                   "cudaDeviceGetAttribute: attribute not emulated");
  *value = (int)blorc_emu::kOptinDynamicShared;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **ptr, size_t bytes) {
  blorc_emu::DeviceState &d = dev();
  *ptr = nullptr;
  if (cudaError_t e = blorc_emu::sticky_error()) return e;
  blorc_emu::count(&blorc_emu::Counters::mallocs);
  {
    std::lock_guard<std::mutex> g(d.mu);
    if (bytes > d.capacity - d.used) {
      d.last = cudaErrorMemoryAllocation;
      return cudaErrorMemoryAllocation;  // as the runtime: an error code, no message
    }
    // Poisoned, not zeroed: device memory holds garbage until written.
    // 256-byte aligned, as cudaMalloc guarantees: results that depended on where malloc put
    // a buffer (vector kernels round differently on misaligned data) would vary run to run.
    void *mem = nullptr;
    char *p =
        posix_memalign(&mem, 256, bytes ? bytes : 1) == 0 ? static_cast<char *>(mem) : nullptr;
    if (!p) {
      d.last = cudaErrorMemoryAllocation;
      return cudaErrorMemoryAllocation;
    }
    memset(p, 0xA5, bytes);
    d.allocations[p] = bytes;
    d.used += bytes;
    *ptr = p;
  }
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  if (!ptr) return cudaSuccess;
  blorc_emu::DeviceState &d = dev();
  std::unique_lock<std::mutex> g(d.mu);
  auto it = d.allocations.find(static_cast<const char *>(ptr));
  if (it == d.allocations.end()) {
    g.unlock();
    return blorc_emu::record_error(cudaErrorInvalidDevicePointer,
                                   "cudaFree of a pointer that cudaMalloc did not return");
  }
  d.used -= it->second;
  d.allocations.erase(it);
  free(ptr);
  return cudaSuccess;
}

// Each side of a copy must be what its kind says: inside an allocation (the whole range) for
// device, outside every allocation for host.
static cudaError_t check_side(const void *p, size_t bytes, bool device, const char *side,
                              const char *call) {
  blorc_emu::DeviceState &d = dev();
  std::unique_lock<std::mutex> g(d.mu);
  bool in = blorc_emu::owns_range(d, p, bytes),
       touches = blorc_emu::find(d, p) != d.allocations.end();
  g.unlock();
  if (device && !in)
    return blorc_emu::record_error(cudaErrorInvalidValue,
                                   std::string(call) + ": the " + side + " range of " +
                                       std::to_string(bytes) +
                                       " bytes is not inside one device allocation");
  if (!device && touches)
    return blorc_emu::record_error(
        cudaErrorInvalidValue,
        std::string(call) + ": the " + side + " is device memory, but the kind says host");
  return cudaSuccess;
}

static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                        const char *call) {
  if (bytes == 0) return cudaSuccess;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return blorc_emu::record_error(cudaErrorInvalidMemcpyDirection, std::string(call) + ": kind");
  if (kind != cudaMemcpyDefault) {
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    cudaError_t e = check_side(dst, bytes, dst_dev, "destination", call);
    if (e == cudaSuccess) e = check_side(src, bytes, src_dev, "source", call);
    if (e != cudaSuccess) return e;
  }
  memmove(dst, src, bytes);
  return cudaSuccess;
}

static void count_copy(cudaMemcpyKind kind, size_t bytes) {
  if (kind == cudaMemcpyHostToDevice) blorc_emu::count(&blorc_emu::Counters::copies_h2d);
  if (kind == cudaMemcpyDeviceToHost) blorc_emu::count(&blorc_emu::Counters::copies_d2h);
  if ((kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToHost) &&
      blorc_emu::watching(bytes)) {
    blorc_emu::count(&blorc_emu::Counters::watched);
    if (kind == cudaMemcpyHostToDevice) blorc_emu::count(&blorc_emu::Counters::watched_h2d);
  }
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t e = blorc_emu::surface_fault()) return e;  // a blocking copy waits for the device
  blorc_emu::count(&blorc_emu::Counters::syncs);
  count_copy(kind, bytes);
  return copy(dst, src, bytes, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  if (cudaError_t e = blorc_emu::sticky_error()) return e;
  count_copy(kind, bytes);
  return copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t) {
  if (cudaError_t e = blorc_emu::sticky_error()) return e;
  cudaError_t e = check_side(ptr, bytes, true, "destination", "cudaMemsetAsync");
  if (e == cudaSuccess) memset(ptr, value, bytes);
  return e;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags) {
  *stream = new blorc_emu_stream{flags};
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t) {
  // Launches ran to completion when they were made; their errors are the last error.
  blorc_emu::count(&blorc_emu::Counters::syncs);
  if (cudaError_t e = blorc_emu::surface_fault()) return e;
  blorc_emu::DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  return d.last == cudaErrorLaunchFailure ? cudaErrorLaunchFailure : cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
  blorc_emu::DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  cudaError_t e = d.last;
  if (d.sticky) return cudaErrorLaunchFailure;  // a sticky error is never cleared
  d.last = cudaSuccess;
  d.last_message.clear();
  return e;
}

const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unrecognized error code";
}

cudaError_t blorc_emu_func_set_attribute(const void *func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      (size_t)value > blorc_emu::kOptinDynamicShared)
    return blorc_emu::record_error(cudaErrorInvalidValue,
                                   "cudaFuncSetAttribute: " + std::to_string(value) +
                                       " bytes of dynamic shared memory, at most " +
                                       std::to_string(blorc_emu::kOptinDynamicShared));
  blorc_emu::DeviceState &d = dev();
  std::lock_guard<std::mutex> g(d.mu);
  d.dynamic_shared[func] = (size_t)value;
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags) {
  *event = new blorc_emu_event{flags, false};
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (!event)
    return blorc_emu::record_error(cudaErrorInvalidResourceHandle, "cudaEventRecord: null event");
  if (cudaError_t e = blorc_emu::sticky_error()) return e;
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event)
    return blorc_emu::record_error(cudaErrorInvalidResourceHandle, "cudaEventQuery: null event");
  // Not a wait, but it reports a fault of the work before the event, as on a GPU.
  if (cudaError_t e = blorc_emu::surface_fault()) return e;
  return cudaSuccess;  // work recorded before it has run; one never recorded counts as done
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t bytes) {
  *ptr = malloc(bytes ? bytes : 1);
  return *ptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void *ptr) {
  free(ptr);
  return cudaSuccess;
}
