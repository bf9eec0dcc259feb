// Stage 7 on the backend (blorc_step, issue 19): gradient descent and Adam against the tests'
// own reference of the update, the non-finite guard, the moments as buffers, bad calls.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "pipeline.h"
#include "problems.h"

namespace {

using lib::Vec;

// Runs one minibatch's stages 1-6 on run (after load), returning G.
Vec gradient_of(lib::Run &run) {
  run.through_gradient();
  return run.read(BLORC_BUF_GRAD);
}

// Three steps of each optimiser against Kingma and Ba's update written out here; the bias
// corrections from the step number. Relative error 1e-14 (the same operations, possibly
// contracted differently).
TEST(Step, GradientDescentAndAdamFollowTheirDefinitions) {
  const int n = 12, k = 16, B = 5;
  prob::Problem p = prob::make(31, n, k, B, 0.5);
  for (int adam : {0, 1}) {
    lib::Run run(n, k, B);
    prob::load(run, p);
    Vec W = p.W, m(W.size(), 0.0), v(W.size(), 0.0);
    for (int t = 1; t <= 3; t++) {
      Vec G = gradient_of(run);
      blorc_step_opts o = {adam, 0.01, 0.9, 0.999, 1e-8, t};
      blorc_error e{};
      ASSERT_EQ(blorc_step(run.get(), &o, &e), BLORC_OK) << e.msg;
      double c1 = 1 - std::pow(0.9, t), c2 = 1 - std::pow(0.999, t);
      for (size_t i = 0; i < W.size(); i++) {
        if (!adam) {
          W[i] -= 0.01 * G[i];
          continue;
        }
        m[i] = 0.9 * m[i] + 0.1 * G[i];
        v[i] = 0.999 * v[i] + 0.001 * G[i] * G[i];
        W[i] -= 0.01 * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8);
      }
      EXPECT_LE(ref::rel_diff(run.read(BLORC_BUF_W), W), 1e-14) << "adam " << adam << " t " << t;
      if (adam) {
        EXPECT_LE(ref::rel_diff(run.read(BLORC_BUF_ADAM_M), m), 1e-14);
        EXPECT_LE(ref::rel_diff(run.read(BLORC_BUF_ADAM_V), v), 1e-14);
      }
      run.select_first(B);
    }
  }
}

// A step that would make W non-finite names the entry and leaves W as it was; without a
// gradient, or with bad options, the call is refused; the moments can be written back (resume).
TEST(Step, GuardsAndBuffers) {
  const int n = 8, k = 8, B = 3;
  prob::Problem p = prob::make(5, n, k, B, 0.5);
  lib::Run run(n, k, B);
  prob::load(run, p);
  blorc_error e{};
  blorc_step_opts o = {0, 0.1, 0.9, 0.999, 1e-8, 1};
  EXPECT_EQ(blorc_step(run.get(), &o, &e), BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "no gradient"), nullptr) << e.msg;
  Vec G = gradient_of(run);
  Vec huge = G;
  huge[2 * n + 3] = 1e308;  // finite, but 10 times it is not
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_GRAD, huge.data(), huge.size(), &e), BLORC_OK);
  o.lr = 10;
  Vec before = run.read(BLORC_BUF_W);
  EXPECT_EQ(blorc_step(run.get(), &o, &e), BLORC_ENUMERIC);
  EXPECT_NE(std::strstr(e.msg, "non-finite entry (2, 3)"), nullptr) << e.msg;
  EXPECT_EQ(run.read(BLORC_BUF_W), before);
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_GRAD, G.data(), G.size(), &e), BLORC_OK);
  o = {1, 0.1, 1.5, 0.999, 1e-8, 1};
  EXPECT_EQ(blorc_step(run.get(), &o, &e), BLORC_EINVAL);
  o = {1, 0.1, 0.9, 0.999, 1e-8, 0};
  EXPECT_EQ(blorc_step(run.get(), &o, &e), BLORC_EINVAL);
  // A written gradient (data-parallel training's sum) is stepped with.
  Vec half(G.size());
  for (size_t i = 0; i < G.size(); i++) half[i] = 0.5 * G[i];
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_GRAD, half.data(), half.size(), &e), BLORC_OK);
  o = {0, 0.2, 0.9, 0.999, 1e-8, 1};
  ASSERT_EQ(blorc_step(run.get(), &o, &e), BLORC_OK) << e.msg;
  Vec W = run.read(BLORC_BUF_W);
  for (size_t i = 0; i < W.size(); i++) EXPECT_DOUBLE_EQ(W[i], before[i] - 0.1 * G[i]);
  EXPECT_EQ(blorc_step(run.get(), &o, &e), BLORC_EINVAL) << "a gradient is used once";
  Vec m(W.size(), 0.25);
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_ADAM_M, m.data(), m.size(), &e), BLORC_OK);
  EXPECT_EQ(run.read(BLORC_BUF_ADAM_M), m);
  m[3] = NAN;
  EXPECT_EQ(blorc_write(run.get(), BLORC_BUF_ADAM_V, m.data(), m.size(), &e), BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "Adam moments"), nullptr) << e.msg;
}

}  // namespace
