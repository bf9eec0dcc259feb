// See emu_launch.h. Fibers are Boost.Context fibers (a few nanoseconds a switch; ucontext's
// swapcontext makes a system call for the signal mask at each one): the scheduler runs on the
// calling OS thread, and each CUDA thread is a fiber with its own stack. A fiber runs until it
// reaches a barrier or a shuffle, or returns; once no fiber can run, the scheduler releases
// the warp exchanges whose lanes have all arrived, then the block barrier, or reports why
// neither can be released.
#include "emu_launch.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define BLORC_EMU_ASAN 1
#endif

namespace blorc_emu {
namespace {

enum class State { Runnable, AtBlock, AtWarp, Done };

namespace ctx = boost::context;

struct Fiber {
  ctx::fiber self;   // resumes this thread (held by the scheduler while it is suspended)
  ctx::fiber sched;  // resumes the scheduler (held by this thread while it runs)
  State state = State::Runnable;
  ctx::stack_context stack;    // for AddressSanitizer's fiber-switch annotations
  void *fake_stack = nullptr;  // ASan's fake stack of this fiber while it is suspended
  Dim3 tid;
  int linear = 0;
  // The pending warp operation.
  const char *kind = nullptr;
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int src = 0;
};

// One shared-memory array of a block with guard bytes on both sides.
struct SharedArray {
  static constexpr size_t kGuard = 64;
  static constexpr unsigned char kGuardByte = 0xa5;
  const void *site = nullptr;
  const char *name = "";
  size_t bytes = 0;
  std::unique_ptr<unsigned char[]> mem;  // kGuard + bytes + kGuard, 16-byte aligned from new

  SharedArray(const void *s, const char *n, size_t b)
      : site(s), name(n), bytes(b), mem(new unsigned char[b + 2 * kGuard]) {
    std::memset(mem.get(), kGuardByte, kGuard);
    std::memset(mem.get() + kGuard, 0xff, b);
    std::memset(mem.get() + kGuard + b, kGuardByte, kGuard);
    poison(true);
  }
  SharedArray(SharedArray &&) = default;
  SharedArray &operator=(SharedArray &&) = default;
  ~SharedArray() {
    if (mem) poison(false);
  }
  void *data() const { return mem.get() + kGuard; }
  void poison(bool on) const {
#ifdef BLORC_EMU_ASAN
    if (on) {
      ASAN_POISON_MEMORY_REGION(mem.get(), kGuard);
      ASAN_POISON_MEMORY_REGION(mem.get() + kGuard + bytes, kGuard);
    } else {
      ASAN_UNPOISON_MEMORY_REGION(mem.get(), bytes + 2 * kGuard);
    }
#else
    (void)on;
#endif
  }
  // "before" or "past the end of" when a guard byte changed, else null.
  const char *overrun() const {
    poison(false);
    const char *where = nullptr;
    for (size_t i = 0; i < kGuard && !where; i++) {
      if (mem[i] != kGuardByte) where = "before the start of";
      if (mem[kGuard + bytes + i] != kGuardByte) where = "past the end of";
    }
    poison(true);
    return where;
  }
};

struct Block {
  const char *kernel;
  Dim3 bid, bdim, gdim;
  const std::function<void()> *body;
  std::vector<Fiber> fibers;
  std::unique_ptr<SharedArray> dynamic;
  std::vector<SharedArray> statics;
  size_t static_bytes = 0;
  SharedLimits limits;
  Fiber *current = nullptr;
  std::string error;
  Failure failure = Failure::None;
  ctx::stack_context sched_stack;  // the scheduler's stack, learnt at the first switch
};

// The block whose fibers this OS thread is running (blocks run to completion one at a time
// per OS thread, so a fiber always finds its own block here).
thread_local Block *t_block = nullptr;

Block &block() {
  if (!t_block) {
    fprintf(stderr, "blorc_emu: a device function ran outside an emulated launch\n");
    abort();
  }
  return *t_block;
}

uint64_t splitmix(uint64_t &s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void order(std::vector<int> &idx, Schedule s, uint64_t &rng) {
  std::iota(idx.begin(), idx.end(), 0);
  if (s == Schedule::Reversed) std::reverse(idx.begin(), idx.end());
  if (s == Schedule::Shuffled)
    for (size_t i = idx.size(); i > 1; i--) std::swap(idx[i - 1], idx[splitmix(rng) % i]);
}

std::string where(const Dim3 &d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

// "threads 3 (3,0,0), 5 (5,0,0) ..." for the fibers selected by pick, at most 8 named.
template <typename Pick>
std::string threads(const Block &b, Pick pick) {
  std::string s;
  int shown = 0, total = 0;
  for (const Fiber &f : b.fibers)
    if (pick(f)) {
      total++;
      if (shown < 8) s += (shown++ ? ", " : "") + std::to_string(f.linear) + " " + where(f.tid);
    }
  if (total > shown) s += " and " + std::to_string(total - shown) + " more";
  return s;
}

void fail(Block &b, const std::string &what, Failure kind = Failure::Divergence) {
  if (b.error.empty()) {
    b.error = std::string("kernel ") + b.kernel + ", block " + where(b.bid) + ": " + what;
    b.failure = kind;
  }
}

// AddressSanitizer must be told about every switch between stacks, or it mistakes the
// fibers' frames for stack-buffer overflows (the annotations of sanitizer/common_interface_defs.h).
void asan_start_switch(void **fake_stack_save, const ctx::stack_context &to) {
#ifdef BLORC_EMU_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, static_cast<char *>(to.sp) - to.size, to.size);
#else
  (void)fake_stack_save, (void)to;
#endif
}
void asan_finish_switch(void *fake_stack, ctx::stack_context *from) {
#ifdef BLORC_EMU_ASAN
  const void *bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(fake_stack, from ? &bottom : nullptr, from ? &size : nullptr);
  if (from)
    from->sp = const_cast<char *>(static_cast<const char *>(bottom)) + size, from->size = size;
#else
  (void)fake_stack, (void)from;
#endif
}

// Fiber stacks, reused from launch to launch on each OS thread: an mmap per thread per block
// would dominate the emulation's time. Each has a PROT_NONE guard page below it, so a kernel
// that overflows its stack faults instead of writing into the next one.
class StackPool {
 public:
  ~StackPool() {
    for (void *p : free_) munmap(p, size_ + page());
  }
  ctx::stack_context allocate(size_t size) {
    if (size != size_) {  // a new size: the old stacks no longer fit
      for (void *p : free_) munmap(p, size_ + page());
      free_.clear();
      size_ = size;
    }
    void *base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base =
          mmap(nullptr, size + page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      mprotect(base, page(), PROT_NONE);
    }
    ctx::stack_context sc;
    sc.size = size;
    sc.sp = static_cast<char *>(base) + page() + size;
    return sc;
  }
  void deallocate(ctx::stack_context &sc) {
    void *base = static_cast<char *>(sc.sp) - sc.size - page();
    if (sc.size == size_)
      free_.push_back(base);
    else
      munmap(base, sc.size + page());
  }

 private:
  static size_t page() {
    static const size_t p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
  }
  size_t size_ = 0;
  std::vector<void *> free_;
};

thread_local StackPool t_stacks;

// Boost.Context's StackAllocator over the pool; it also tells the fiber where its stack is.
struct PooledStack {
  size_t size;
  Fiber *fiber;
  ctx::stack_context allocate() { return fiber->stack = t_stacks.allocate(size); }
  void deallocate(ctx::stack_context &sc) { t_stacks.deallocate(sc); }
};

// Suspends the calling fiber in state s until the scheduler makes it runnable again.
void suspend(State s) {
  Block &b = block();
  Fiber *f = b.current;
  f->state = s;
  asan_start_switch(&f->fake_stack, b.sched_stack);
  try {
    f->sched = std::move(f->sched).resume();
  } catch (...) {  // Boost.Context's forced unwind of a fiber destroyed while suspended
    asan_finish_switch(f->fake_stack, &b.sched_stack);
    throw;
  }
  asan_finish_switch(f->fake_stack, &b.sched_stack);
}

// Unwinds the fibers a failed launch left suspended, with the switches annotated.
void destroy_suspended(Block &b) {
  for (Fiber &f : b.fibers) {
    if (!f.self) continue;
    b.current = &f;
    void *fake = nullptr;
    asan_start_switch(&fake, f.stack);
    { ctx::fiber dying = std::move(f.self); }
    asan_finish_switch(fake, nullptr);
  }
}

// Guard bytes of every shared array intact, or the block fails naming the array.
bool guards_intact(Block &b) {
  auto check = [&](const SharedArray &a, const std::string &what) {
    if (const char *w = a.overrun())
      fail(b,
           std::string("a thread wrote ") + w + " " + what + " (" + std::to_string(a.bytes) +
               " bytes)",
           Failure::SharedMemory);
  };
  for (const SharedArray &a : b.statics) check(a, std::string("shared array '") + a.name + "'");
  if (b.dynamic) check(*b.dynamic, "the dynamic shared memory");
  return b.error.empty();
}

// Releases every warp exchange whose lanes have all arrived; returns how many lanes it
// released, or -1 after recording an error.
int release_warps(Block &b) {
  int released = 0, n = (int)b.fibers.size();
  for (Fiber &f : b.fibers) {
    if (f.state != State::AtWarp) continue;
    int warp = f.linear / 32;
    if (!(f.mask >> (f.linear % 32) & 1u)) {
      fail(b, std::string(f.kind) + " by thread " + std::to_string(f.linear) +
                  " with a mask that leaves out its own lane");
      return -1;
    }
    bool ready = true;
    for (int l = 0; l < 32 && ready; l++) {
      if (!(f.mask >> l & 1u)) continue;
      int t = warp * 32 + l;
      if (t >= n) {
        fail(
            b, std::string(f.kind) + " mask 0x" +
                   [&] {
                     char h[16];
                     snprintf(h, sizeof h, "%08x", f.mask);
                     return std::string(h);
                   }() +
                   " names lane " + std::to_string(l) + " of warp " + std::to_string(warp) +
                   ", which the block does not have (" + std::to_string(n) + " threads)");
        return -1;
      }
      const Fiber &o = b.fibers[t];
      if (o.state == State::Done || o.state == State::AtBlock) {
        fail(b, std::string(f.kind) + " by thread " + std::to_string(f.linear) +
                    " waits for lane " + std::to_string(l) + " (thread " + std::to_string(t) +
                    "), which " + (o.state == State::Done ? "exited" : "waits at __syncthreads"));
        return -1;
      }
      if (o.state == State::AtWarp && (std::strcmp(o.kind, f.kind) != 0 || o.mask != f.mask)) {
        fail(b, "threads " + std::to_string(f.linear) + " and " + std::to_string(t) +
                    " of one warp wait at different warp operations (" + f.kind + " and " + o.kind +
                    ")");
        return -1;
      }
      ready = o.state == State::AtWarp;
    }
    if (!ready) continue;
    // Everyone in the mask is here: read the sources, then let them all go.
    for (int l = 0; l < 32; l++)
      if (f.mask >> l & 1u) {
        Fiber &o = b.fibers[warp * 32 + l];
        int src = warp * 32 + o.src;
        if (!(f.mask >> o.src & 1u)) {
          fail(b, std::string(o.kind) + " by thread " + std::to_string(o.linear) + " reads lane " +
                      std::to_string(o.src) + ", which is not in its mask");
          return -1;
        }
        o.result = b.fibers[src].value;
      }
    for (int l = 0; l < 32; l++)
      if (f.mask >> l & 1u) {
        b.fibers[warp * 32 + l].state = State::Runnable;
        released++;
      }
  }
  return released;
}

bool run_block(Block &b, const LaunchOptions &opts, uint64_t &rng) {
  int n = (int)b.fibers.size();
  for (Fiber &f : b.fibers) {
    Fiber *fp = &f;
    f.self = ctx::fiber(std::allocator_arg, PooledStack{opts.stack_bytes, fp},
                        [&b, fp](ctx::fiber &&sched) {
                          asan_finish_switch(nullptr, &b.sched_stack);
                          fp->sched = std::move(sched);
                          try {
                            (*b.body)();
                          } catch (...) {  // forced unwind: the switch back follows at once
                            asan_start_switch(nullptr, b.sched_stack);
                            throw;
                          }
                          fp->state = State::Done;
                          asan_start_switch(nullptr, b.sched_stack);  // this fiber ends
                          return std::move(fp->sched);
                        });
  }
  std::vector<int> idx(n);
  for (;;) {
    order(idx, opts.schedule, rng);
    for (int i : idx) {
      Fiber &f = b.fibers[i];
      if (f.state != State::Runnable) continue;
      b.current = &f;
      void *fake = nullptr;
      asan_start_switch(&fake, f.stack);
      f.self = std::move(f.self).resume();
      asan_finish_switch(fake, nullptr);
      if (!b.error.empty()) return false;
    }
    int done = 0, at_block = 0, at_warp = 0;
    for (const Fiber &f : b.fibers) {
      done += f.state == State::Done;
      at_block += f.state == State::AtBlock;
      at_warp += f.state == State::AtWarp;
    }
    if (done == n) return guards_intact(b);
    if (at_warp > 0) {
      int r = release_warps(b);
      if (r < 0) return false;
      if (r > 0) continue;
    }
    if (at_block == n) {
      for (Fiber &f : b.fibers) f.state = State::Runnable;
      continue;
    }
    // Some threads wait at __syncthreads that others will never reach.
    auto waiting = [](const Fiber &f) { return f.state == State::AtBlock; };
    auto others = [](const Fiber &f) { return f.state != State::AtBlock; };
    if (at_block > 0)
      fail(b, "divergent __syncthreads: threads " + threads(b, waiting) +
                  " wait at it while threads " + threads(b, others) +
                  (at_warp ? " wait at a warp operation or exited" : " exited"));
    else
      fail(b, "threads " + threads(b, [](const Fiber &f) { return f.state == State::AtWarp; }) +
                  " wait at warp operations that can never complete");
    return false;
  }
}

}  // namespace

bool launch(const char *kernel, Dim3 grid, Dim3 block, size_t shared_bytes,
            const std::function<void()> &body, const LaunchOptions &opts, std::string *error,
            const SharedLimits &limits, Failure *failure) {
  if (failure) *failure = Failure::None;
  uint64_t rng = opts.seed;
  std::vector<int> blocks(grid.count());
  order(blocks, opts.schedule, rng);
  Block *outer = t_block;  // a launch from inside a fiber is not supported; keep the state
  for (int lin : blocks) {
    Block b;
    b.kernel = kernel;
    b.bid = {lin % grid.x, lin / grid.x % grid.y, lin / (grid.x * grid.y)};
    b.bdim = block;
    b.gdim = grid;
    b.body = &body;
    b.limits = limits;
    if (shared_bytes) b.dynamic.reset(new SharedArray(nullptr, "dynamic", shared_bytes));
    b.fibers.resize(block.count());
    for (int t = 0; t < (int)block.count(); t++) {
      Fiber &f = b.fibers[t];
      f.linear = t;
      f.tid = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
    }
    t_block = &b;
    bool ok = run_block(b, opts, rng);
    if (!ok) destroy_suspended(b);
    t_block = outer;
    if (!ok) {
      if (error) *error = b.error;
      if (failure) *failure = b.failure;
      return false;
    }
  }
  return true;
}

const Dim3 &thread_idx() {
  return block().current->tid;
}
const Dim3 &block_idx() {
  return block().bid;
}
const Dim3 &block_dim() {
  return block().bdim;
}
const Dim3 &grid_dim() {
  return block().gdim;
}
void *dynamic_shared() {
  Block &b = block();
  if (!b.dynamic) {
    fail(b, "the kernel uses dynamic shared memory, and the launch gave it none",
         Failure::SharedMemory);
    suspend(State::AtBlock);  // never resumed: the launch has failed
  }
  return b.dynamic->data();
}

void *static_shared(const void *site, const char *name, size_t bytes) {
  Block &b = block();
  for (const SharedArray &a : b.statics)
    if (a.site == site) return a.data();
  size_t total = b.static_bytes + bytes, dyn = b.dynamic ? b.dynamic->bytes : 0;
  const SharedLimits &l = b.limits;
  std::string why;
  if (!l.opted_in && total + dyn > 48 * 1024)
    why = std::to_string(total) + " bytes of static shared memory (up to '" + name + "') and " +
          std::to_string(dyn) + " of dynamic exceed the 48 KB a kernel gets without " +
          "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)";
  else if (l.opted_in && total + l.dynamic_attribute > l.optin_limit)
    why = std::to_string(total) + " bytes of static shared memory (up to '" + name +
          "') and the opted-in " + std::to_string(l.dynamic_attribute) + " of dynamic exceed the " +
          "device's " + std::to_string(l.optin_limit) + "-byte opt-in limit";
  if (!why.empty()) {
    fail(b, why, Failure::SharedMemory);
    suspend(State::AtBlock);  // never resumed: the launch has failed
  }
  b.static_bytes = total;
  b.statics.emplace_back(site, name, bytes);
  return b.statics.back().data();
}

void sync_threads() {
  suspend(State::AtBlock);
}

void sync_warp(unsigned mask) {
  detail::exchange("__syncwarp", mask, 0, detail::lane());
}

namespace detail {

int lane() {
  return block().current->linear % 32;
}

uint64_t exchange(const char *kind, unsigned mask, uint64_t value, int src_lane) {
  Fiber *f = block().current;
  f->kind = kind;
  f->mask = mask;
  f->value = value;
  f->src = src_lane;
  suspend(State::AtWarp);
  return f->result;
}

}  // namespace detail
}  // namespace blorc_emu
