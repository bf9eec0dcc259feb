// The CPU emulation of kernel launches (cuda/emu/emu_launch.h): barriers, shuffles, shared
// memory and indices behave as on a GPU, the schedules expose a missing barrier, and every
// divergence the issue lists stops the launch with a message naming kernel, block, threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "../cuda/emu/emu_launch.h"

namespace {

using blorc_emu::Dim3;
using blorc_emu::LaunchOptions;
using blorc_emu::Schedule;

const Schedule kSchedules[] = {Schedule::InOrder, Schedule::Reversed, Schedule::Shuffled};

LaunchOptions with(Schedule s, uint64_t seed = 7) {
  LaunchOptions o;
  o.schedule = s;
  o.seed = seed;
  o.stack_bytes = 64 * 1024;
  return o;
}

bool contains(const std::string &s, const std::string &what) {
  return s.find(what) != std::string::npos;
}

// A shared-memory tree reduction with a barrier per level, one block per row of in.
TEST(EmuLaunch, SharedMemoryReductionIsExactUnderEverySchedule) {
  const int rows = 3, T = 128;
  std::vector<double> in(rows * T), out(rows, -1);
  for (size_t i = 0; i < in.size(); i++) in[i] = (double)(i % 17) - 3.0;
  for (Schedule s : kSchedules) {
    std::string err;
    bool ok = blorc_emu::launch(
        "reduce", {rows}, {T}, T * sizeof(double),
        [&] {
          double *red = static_cast<double *>(blorc_emu::dynamic_shared());
          unsigned t = blorc_emu::thread_idx().x, b = blorc_emu::block_idx().x;
          red[t] = in[b * T + t];
          blorc_emu::sync_threads();
          for (unsigned h = T / 2; h > 0; h /= 2) {
            if (t < h) red[t] += red[t + h];
            blorc_emu::sync_threads();
          }
          if (t == 0) out[b] = red[0];
        },
        with(s), &err);
    ASSERT_TRUE(ok) << err;
    for (int r = 0; r < rows; r++) {
      double want = 0;
      for (int t = 0; t < T; t++) want += in[r * T + t];
      EXPECT_EQ(out[r], want) << "row " << r;
    }
  }
}

// Warp-synchronous reductions: shfl_down leaves the sum in lane 0, the xor butterfly in every
// lane; two warps per block.
TEST(EmuLaunch, WarpShufflesExchangeAmongTheLanes) {
  std::vector<double> down(64, 0), bfly(64, 0);
  for (Schedule s : kSchedules) {
    std::string err;
    ASSERT_TRUE(blorc_emu::launch(
        "shuffles", {1}, {64}, 0,
        [&] {
          unsigned t = blorc_emu::thread_idx().x;
          double v = t + 1, w = t + 1;
          for (int o = 16; o > 0; o >>= 1) v += blorc_emu::shfl_down(0xffffffffu, v, o);
          for (int o = 16; o > 0; o >>= 1) w += blorc_emu::shfl_xor(0xffffffffu, w, o);
          down[t] = v;
          bfly[t] = w;
        },
        with(s), &err))
        << err;
    EXPECT_EQ(down[0], 528.0);    // 1 + ... + 32
    EXPECT_EQ(down[32], 1552.0);  // 33 + ... + 64
    for (int t = 0; t < 64; t++) EXPECT_EQ(bfly[t], t < 32 ? 528.0 : 1552.0) << t;
  }
}

// Without the barrier between writing and reading a neighbour's slot the result depends on
// the order the threads run in: the schedules make that race visible.
TEST(EmuLaunch, AMissingBarrierGivesScheduleDependentResults) {
  const int T = 32;
  std::vector<std::vector<int>> seen;
  for (Schedule s : {Schedule::InOrder, Schedule::Reversed}) {
    std::vector<int> got(T);
    std::string err;
    ASSERT_TRUE(blorc_emu::launch(
        "racy", {1}, {T}, T * sizeof(int),
        [&] {
          int *sh = static_cast<int *>(blorc_emu::dynamic_shared());
          unsigned t = blorc_emu::thread_idx().x;
          sh[t] = (int)t + 1;
          // (the __syncthreads() a correct kernel needs here is missing)
          got[t] = sh[(t + 1) % T];
        },
        with(s), &err))
        << err;
    seen.push_back(got);
  }
  EXPECT_NE(seen[0], seen[1]);
}

TEST(EmuLaunch, DivergentBarrierNamesKernelBlockAndThreads) {
  std::string err;
  bool ok = blorc_emu::launch(
      "early_exit", {2}, {16}, 0,
      [&] {
        if (blorc_emu::block_idx().x == 1 && blorc_emu::thread_idx().x >= 10) return;
        blorc_emu::sync_threads();
      },
      with(Schedule::InOrder), &err);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(err, "kernel early_exit, block (1,0,0)")) << err;
  EXPECT_TRUE(contains(err, "divergent __syncthreads")) << err;
  EXPECT_TRUE(contains(err, "threads 0 (0,0,0), 1 (1,0,0)")) << err;
  EXPECT_TRUE(contains(err, "while threads 10 (10,0,0)")) << err;
  EXPECT_TRUE(contains(err, "exited")) << err;
}

TEST(EmuLaunch, ShuffleWaitingForAnExitedLaneFails) {
  std::string err;
  bool ok = blorc_emu::launch(
      "half_warp", {1}, {32}, 0,
      [&] {
        if (blorc_emu::thread_idx().x >= 16) return;
        (void)blorc_emu::shfl_down(0xffffffffu, 1.0, 1);
      },
      with(Schedule::Reversed), &err);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(err, "kernel half_warp")) << err;
  EXPECT_TRUE(contains(err, "__shfl_down_sync")) << err;
  EXPECT_TRUE(contains(err, "exited")) << err;
}

TEST(EmuLaunch, ShuffleMaskNamingLanesTheBlockLacksFails) {
  std::string err;
  bool ok = blorc_emu::launch(
      "short_block", {1}, {20}, 0, [&] { (void)blorc_emu::shfl_xor(0xffffffffu, 2.0f, 1); },
      with(Schedule::InOrder), &err);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(err, "names lane 20 of warp 0")) << err;
}

TEST(EmuLaunch, ShuffleAgainstABarrierIsDivergent) {
  std::string err;
  bool ok = blorc_emu::launch(
      "shfl_vs_barrier", {1}, {32}, 0,
      [&] {
        if (blorc_emu::thread_idx().x < 16)
          (void)blorc_emu::shfl_down(0xffffffffu, 1.0, 1);
        else
          blorc_emu::sync_threads();
      },
      with(Schedule::Shuffled), &err);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(contains(err, "waits at __syncthreads")) << err;
}

TEST(EmuLaunch, IndicesCoverTheGridOnce) {
  Dim3 grid{2, 3, 1}, block{4, 2, 2};
  std::vector<int> hits(grid.count() * block.count(), 0);
  std::string err;
  ASSERT_TRUE(blorc_emu::launch(
      "index", grid, block, 0,
      [&] {
        const Dim3 &t = blorc_emu::thread_idx(), &b = blorc_emu::block_idx();
        const Dim3 &bd = blorc_emu::block_dim(), &gd = blorc_emu::grid_dim();
        unsigned bl = b.x + gd.x * b.y, tl = t.x + bd.x * (t.y + bd.y * t.z);
        hits[bl * bd.count() + tl]++;
      },
      with(Schedule::Shuffled), &err))
      << err;
  EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
}

// Uninitialised shared memory holds anything on a GPU; here it holds 0xff bytes (NaN, -1),
// so a kernel that reads before it writes sees garbage rather than a convenient zero.
TEST(EmuLaunch, DynamicSharedMemoryIsPerBlockAndStartsAsGarbage) {
  std::vector<int> first(4, -1);
  std::string err;
  ASSERT_TRUE(blorc_emu::launch(
      "smem", {4}, {8}, 8 * sizeof(int),
      [&] {
        int *sh = static_cast<int *>(blorc_emu::dynamic_shared());
        unsigned t = blorc_emu::thread_idx().x, b = blorc_emu::block_idx().x;
        if (t == 0) first[b] = sh[7];  // nothing of another block's is left
        blorc_emu::sync_threads();
        sh[t] = (int)(b * 100 + t);
      },
      with(Schedule::Shuffled), &err))
      << err;
  EXPECT_EQ(first, std::vector<int>(4, -1));
}

TEST(EmuLaunch, StaticSharedArraysArePerBlockAndNamedWhenOverrun) {
  static const char site = 0;
  std::vector<double> out(3, 0);
  std::string err;
  // Each block accumulates into its own copy: another block's values never leak in.
  ASSERT_TRUE(blorc_emu::launch(
      "own", {3}, {32}, 0,
      [&] {
        double *red = static_cast<double *>(blorc_emu::static_shared(&site, "red", 4 * 8));
        unsigned t = blorc_emu::thread_idx().x, b = blorc_emu::block_idx().x;
        if (t < 4) red[t] = b + t;
        blorc_emu::sync_threads();
        if (t == 0) out[b] = red[0] + red[1] + red[2] + red[3];
      },
      with(Schedule::Shuffled), &err))
      << err;
  EXPECT_EQ(out, (std::vector<double>{6, 10, 14}));
  for (int index : {4, -1}) {  // one past the end, one before the start
    blorc_emu::Failure why;
    auto overrun = [&] {
      return blorc_emu::launch(
          "overrun", {2}, {32}, 0,
          [&] {
            double *red = static_cast<double *>(blorc_emu::static_shared(&site, "red", 4 * 8));
            if (blorc_emu::thread_idx().x == 0) red[index] = 1;
          },
          with(Schedule::InOrder), &err, blorc_emu::SharedLimits{}, &why);
    };
#if defined(__SANITIZE_ADDRESS__)
    // The guards are poisoned: AddressSanitizer stops the write itself, naming the line.
    EXPECT_DEATH(overrun(), "use-after-poison");
    continue;
#endif
    EXPECT_FALSE(overrun());
    EXPECT_EQ(why, blorc_emu::Failure::SharedMemory);
    EXPECT_TRUE(contains(err, index > 0 ? "past the end of shared array 'red' (32 bytes)"
                                        : "before the start of shared array 'red'"))
        << err;
    EXPECT_TRUE(contains(err, "kernel overrun, block (0,0,0)")) << err;
  }
}

TEST(EmuLaunch, StaticSharedMemoryCountsAgainstTheLimit) {
  static const char site = 0;
  auto body = [&] { (void)blorc_emu::static_shared(&site, "big", 1024); };
  std::string err;
  blorc_emu::Failure why;
  // 1 KB static plus 48 KB dynamic: over the 48 KB a kernel gets without opting in.
  EXPECT_FALSE(blorc_emu::launch("tight", {1}, {32}, 48 * 1024, body, with(Schedule::InOrder), &err,
                                 blorc_emu::SharedLimits{}, &why));
  EXPECT_EQ(why, blorc_emu::Failure::SharedMemory);
  EXPECT_TRUE(contains(err, "1024 bytes of static shared memory (up to 'big')")) << err;
  blorc_emu::SharedLimits opted;
  opted.opted_in = true, opted.dynamic_attribute = 49 * 1024;
  EXPECT_TRUE(
      blorc_emu::launch("opted", {1}, {32}, 48 * 1024, body, with(Schedule::InOrder), &err, opted))
      << err;
  opted.dynamic_attribute = opted.optin_limit;  // opted into all of it: no room for static
  EXPECT_FALSE(
      blorc_emu::launch("full", {1}, {32}, 1024, body, with(Schedule::InOrder), &err, opted, &why));
  EXPECT_TRUE(contains(err, "opt-in limit")) << err;
}

}  // namespace
