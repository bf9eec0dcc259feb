// Checks that run on either backend, shared by the CPU tests and the GPU tests: the epoch order
// (blorc_shuffle, blorc_select_shuffled) against the host's (blorc_shuffle_order), and the
// minibatch counts (blorc_batch_stats) against the same counts formed from the buffers read.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "blorc/denoise.h"
#include "pipeline.h"
#include "problems.h"

namespace backend_checks {

// Every minibatch of a shuffled epoch (23 samples in batches of 5) gathers what blorc_select
// gathers with blorc_shuffle_order's indices: ADMM's iterate and warm state bit for bit.
inline void expect_host_order(blorc_device dev) {
  const int n = 8, k = 8, N = 23, B = 5;
  prob::Problem p = prob::make(61, n, k, N, 0.5);
  lib::Run a(n, k, B, dev), b(n, k, B, dev);
  for (lib::Run *r : {&a, &b}) {
    r->set_W(p.W);
    r->set_data(p.X, p.Y);
  }
  std::vector<size_t> order(N);
  ASSERT_EQ(blorc_shuffle_order(7, order.data(), N), 0);
  b.shuffle(7, N);
  lib::Params prm;
  prm.admm.max_iters = 20;
  for (size_t start = 0; start < (size_t)N; start += B) {
    int Bj = (int)std::min<size_t>(B, N - start);
    a.select(std::vector<size_t>(order.begin() + start, order.begin() + start + Bj));
    b.select_shuffled(start, Bj);
    a.solve(prm);
    b.solve(prm);
    EXPECT_EQ(a.read(BLORC_BUF_X_ADMM), b.read(BLORC_BUF_X_ADMM)) << "minibatch at " << start;
  }
  EXPECT_EQ(a.read(BLORC_BUF_STATE_Z), b.read(BLORC_BUF_STATE_Z));
}

// blorc_batch_stats on two minibatches (the second revisits two samples of the first under a
// changed W): the
// counts equal those formed on the host from SIGN, X_ADMM, XSTAR and UNIQUE and the pattern
// store; the store then holds each visited sample's pattern, 2 elsewhere.
inline void expect_batch_counts(blorc_device dev) {
  const int n = 10, k = 14, N = 9, B = 4;
  prob::Problem p = prob::make(63, n, k, N, 0.4);
  lib::Run r(n, k, B, dev);
  r.set_W(p.W);
  r.set_data(p.X, p.Y);
  std::vector<double> store((size_t)N * k, 2.0);
  lib::Params prm;
  prm.admm.max_iters = 30;  // loose: some samples disagree with their closed form
  const double tol = 1e-9, nearby = 1e-6;
  long long all_changes = 0;
  int all_mismatch = 0;
  for (const std::vector<size_t> &idx : {std::vector<size_t>{0, 3, 5, 7}, {5, 1, 3, 8}}) {
    if (idx[0] == 5) {  // a changed W moves the revisited samples' patterns
      lib::Vec W2 = p.W;
      for (double &w : W2) w *= 2.5;
      r.set_W(W2);
    }
    r.select(idx);
    r.solve(prm);
    r.analyse(prm);
    lib::Vec s = r.read(BLORC_BUF_SIGN), xa = r.read(BLORC_BUF_X_ADMM),
             xs = r.read(BLORC_BUF_XSTAR), un = r.read(BLORC_BUF_UNIQUE);
    long long changes = 0;
    int mismatch = 0, not_unique = 0;
    for (int j = 0; j < B; j++) {
      for (int i = 0; i < k; i++) {
        double &prev = store[idx[j] * k + i];
        changes += prev != 2.0 && prev != s[(size_t)j * k + i];
        prev = s[(size_t)j * k + i];
      }
      mismatch += !blorc_closed_form_agrees(&xa[(size_t)j * n], &xs[(size_t)j * n], n, tol, nearby);
      not_unique += un[j] == 0.0;
    }
    blorc_batch_counts got{};
    blorc_error e{};
    ASSERT_EQ(blorc_batch_stats(r.get(), tol, nearby, &got, &e), BLORC_OK) << e.msg;
    EXPECT_EQ(got.sign_changes, changes);
    EXPECT_EQ(got.mismatch, mismatch);
    EXPECT_EQ(got.not_unique, not_unique);
    EXPECT_EQ(r.read(BLORC_BUF_STATE_SIGNS), store);
    all_changes += changes, all_mismatch += mismatch;
  }
  EXPECT_GT(all_changes, 0);  // both counts exercised
  EXPECT_GT(all_mismatch, 0);
}

}  // namespace backend_checks
