// The public backend API: argument checks, stage order, clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "backend_checks.h"
#include "pipeline.h"

namespace {

bool contains(const char *s, const char *what) {
  return std::string(s).find(what) != std::string::npos;
}

TEST(BackendApi, RejectsBadSizes) {
  blorc_backend *b = nullptr;
  blorc_error e{};
  EXPECT_EQ(blorc_backend_create(BLORC_DEVICE_CPU, 0, 4, 10, &b, &e), BLORC_EINVAL);
  EXPECT_EQ(b, nullptr);
  EXPECT_TRUE(contains(e.msg, "n=0")) << e.msg;
  EXPECT_EQ(blorc_backend_create(BLORC_DEVICE_CPU, 4, 4, 0, &b, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "max_batch=0")) << e.msg;
}

TEST(BackendApi, CudaWithoutDeviceIsAnErrorNotAFallback) {
  if (blorc_cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  blorc_backend *b = nullptr;
  blorc_error e{};
  EXPECT_EQ(blorc_backend_create(BLORC_DEVICE_CUDA, 4, 4, 10, &b, &e), BLORC_EDEVICE);
  EXPECT_EQ(b, nullptr);
  EXPECT_TRUE(contains(e.msg, "cuda")) << e.msg;
}

TEST(BackendApi, StagesRunInOrder) {
  lib::Run run(4, 4, 2);
  blorc_error e{};
  blorc_admm_opts o = blorc_admm_defaults();
  EXPECT_EQ(blorc_admm(run.get(), &o, nullptr, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "select")) << e.msg;
  std::vector<double> Y(8, 0.5), X(8, 0.4);
  run.set_data(X, Y);
  run.select_first(2);
  EXPECT_EQ(blorc_admm(run.get(), &o, nullptr, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "factor")) << e.msg;
  EXPECT_EQ(blorc_signs(run.get(), 1e-3, &e), BLORC_EINVAL);
  EXPECT_EQ(blorc_gradient(run.get(), nullptr, &e), BLORC_EINVAL);
  std::vector<double> xs(8);
  EXPECT_EQ(blorc_read(run.get(), BLORC_BUF_XSTAR, xs.data(), xs.size(), &e), BLORC_EINVAL);
  // Changing W after ADMM invalidates the batch's later stages.
  std::vector<double> W(16, 0.1);
  run.set_W(W);
  ASSERT_EQ(blorc_factor(run.get(), 1.0, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_admm(run.get(), &o, nullptr, &e), BLORC_OK) << e.msg;
  run.set_W(W);
  EXPECT_EQ(blorc_signs(run.get(), 1e-3, &e), BLORC_EINVAL);
}

TEST(BackendApi, RejectsBadValues) {
  lib::Run run(3, 2, 2);
  blorc_error e{};
  std::vector<double> W(6, 0.1);
  W[4] = NAN;
  EXPECT_EQ(blorc_write(run.get(), BLORC_BUF_W, W.data(), W.size(), &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "W: non-finite value at row 1 column 1")) << e.msg;
  EXPECT_EQ(blorc_write(run.get(), BLORC_BUF_W, W.data(), 5, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "expected 6")) << e.msg;
  std::vector<double> Y(6, 0.5);
  Y[5] = INFINITY;
  EXPECT_EQ(blorc_set_data(run.get(), 2, nullptr, Y.data(), &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "signal 1 index 2")) << e.msg;
  Y[5] = 0.5;
  ASSERT_EQ(blorc_set_data(run.get(), 2, nullptr, Y.data(), &e), BLORC_OK);
  size_t idx[3] = {0, 1, 0};
  EXPECT_EQ(blorc_select(run.get(), idx, 3, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "batch size 3, expected 1..2")) << e.msg;
  idx[1] = 7;
  EXPECT_EQ(blorc_select(run.get(), idx, 2, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "index 7")) << e.msg;
  EXPECT_EQ(blorc_factor(run.get(), 0.0, &e), BLORC_EINVAL);
  EXPECT_EQ(blorc_factor(run.get(), NAN, &e), BLORC_EINVAL);
}

TEST(BackendApi, DenoisingWithoutCleanSignals) {
  // Stages 1-5 work without clean signals (the denoise path); the gradient says why not.
  lib::Run run(4, 3, 2);
  std::vector<double> W = {0.3, -0.3, 0, 0, 0, 0.3, -0.3, 0, 0, 0, 0.3, -0.3};
  run.set_W(W);
  std::vector<double> Y = {0.1, 0.2, 0.9, 1.0, 0.5, 0.5, 0.5, 0.6};
  run.set_data({}, Y);
  run.select_first(2);
  lib::Params prm;
  run.solve(prm);
  run.analyse(prm);
  blorc_error e{};
  EXPECT_EQ(blorc_gradient(run.get(), nullptr, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "no clean signals")) << e.msg;
  EXPECT_EQ(run.read(BLORC_BUF_XSTAR).size(), 8u);
}

TEST(BackendApi, WarmStateRoundTrips) {
  lib::Run run(3, 2, 2);
  std::vector<double> Y(9, 0.5);
  run.set_data({}, Y);
  std::vector<double> Z = {1, 2, 3, 4, 5, 6};
  blorc_error e{};
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_STATE_Z, Z.data(), Z.size(), &e), BLORC_OK) << e.msg;
  EXPECT_EQ(run.read(BLORC_BUF_STATE_Z), Z);
  EXPECT_EQ(run.read(BLORC_BUF_STATE_LAMBDA), std::vector<double>(6, 0.0));
}

// The epoch order drawn on the backend selects what the host's order selects; bad calls are
// errors naming the range.
TEST(BackendApi, ShuffledSelectionIsTheHostOrder) {
  backend_checks::expect_host_order(BLORC_DEVICE_CPU);
  prob::Problem p = prob::make(62, 4, 4, 6, 0.5);
  lib::Run run(4, 4, 3);
  run.set_W(p.W);
  run.set_data(p.X, p.Y);
  blorc_error e{};
  EXPECT_EQ(blorc_select_shuffled(run.get(), 0, 3, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "no shuffle")) << e.msg;
  EXPECT_EQ(blorc_shuffle(run.get(), 1, 7, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "7 samples, expected 1..6")) << e.msg;
  EXPECT_EQ(blorc_shuffle(run.get(), 1, 0, &e), BLORC_EINVAL);
  ASSERT_EQ(blorc_shuffle(run.get(), 1, 5, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(blorc_select_shuffled(run.get(), 3, 3, &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "positions 3..5 of a shuffle of 5")) << e.msg;
  EXPECT_EQ(blorc_select_shuffled(run.get(), 2, 3, &e), BLORC_OK) << e.msg;
  run.set_data(p.X, p.Y);  // a new data set drops the order
  EXPECT_EQ(blorc_select_shuffled(run.get(), 0, 3, &e), BLORC_EINVAL);
}

// The minibatch counts training logs, formed on the backend, against the buffers read.
TEST(BackendApi, BatchCountsMatchTheBuffers) {
  backend_checks::expect_batch_counts(BLORC_DEVICE_CPU);
  lib::Run run(3, 2, 2);
  run.set_data({}, std::vector<double>(6, 0.5));
  blorc_batch_counts c{};
  blorc_error e{};
  EXPECT_EQ(blorc_batch_stats(run.get(), 1e-9, 0, &c, &e), BLORC_EINVAL);  // before closed_form
  EXPECT_EQ(run.read(BLORC_BUF_STATE_SIGNS), std::vector<double>(4, 2.0));
}

}  // namespace
