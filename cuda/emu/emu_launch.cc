// See emu_launch.h. Fibers are Boost.Context fibers (a few nanoseconds a switch; ucontext's
// swapcontext makes a system call for the signal mask at each one): the scheduler runs on the
// calling OS thread, and each CUDA thread is a fiber with its own stack. A fiber runs until it
// reaches a barrier or a shuffle, or returns; once no fiber can run, the scheduler releases
// the warp exchanges whose lanes have all arrived, then the block barrier, or reports why
// neither can be released.
#include "emu_launch.h"

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

namespace blorc_emu {
namespace {

enum class State { Runnable, AtBlock, AtWarp, Done };

namespace ctx = boost::context;

struct Fiber {
  ctx::fiber self;   // resumes this thread (held by the scheduler while it is suspended)
  ctx::fiber sched;  // resumes the scheduler (held by this thread while it runs)
  State state = State::Runnable;
  Dim3 tid;
  int linear = 0;
  // The pending warp operation.
  const char *kind = nullptr;
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int src = 0;
};

struct Block {
  const char *kernel;
  Dim3 bid, bdim, gdim;
  const std::function<void()> *body;
  std::vector<Fiber> fibers;
  std::vector<uint64_t> shared;  // 8-byte units: 16-byte aligned from new
  Fiber *current = nullptr;
  std::string error;
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

void fail(Block &b, const std::string &what) {
  if (b.error.empty())
    b.error = std::string("kernel ") + b.kernel + ", block " + where(b.bid) + ": " + what;
}

// Suspends the calling fiber in state s until the scheduler makes it runnable again.
void suspend(State s) {
  Block &b = block();
  Fiber *f = b.current;
  f->state = s;
  f->sched = std::move(f->sched).resume();
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
    f.self = ctx::fiber(std::allocator_arg, ctx::fixedsize_stack(opts.stack_bytes),
                        [&b, fp](ctx::fiber &&sched) {
                          fp->sched = std::move(sched);
                          (*b.body)();
                          fp->state = State::Done;
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
      f.self = std::move(f.self).resume();
      if (!b.error.empty()) return false;
    }
    int done = 0, at_block = 0, at_warp = 0;
    for (const Fiber &f : b.fibers) {
      done += f.state == State::Done;
      at_block += f.state == State::AtBlock;
      at_warp += f.state == State::AtWarp;
    }
    if (done == n) return true;
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
            const std::function<void()> &body, const LaunchOptions &opts, std::string *error) {
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
    b.shared.assign((shared_bytes + 7) / 8, 0);
    b.fibers.resize(block.count());
    for (int t = 0; t < (int)block.count(); t++) {
      Fiber &f = b.fibers[t];
      f.linear = t;
      f.tid = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
    }
    t_block = &b;
    bool ok = run_block(b, opts, rng);
    t_block = outer;
    if (!ok) {
      if (error) *error = b.error;
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
  return block().shared.data();
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
