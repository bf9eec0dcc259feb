// End-to-end tests of the forward operators (issue 16): data makes measurements and masks,
// reconstruct against the reference KKT solve, grad against finite differences, eval with
// a baseline tuned for the operator, train and resume, and each class of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "cli_fixture.h"
#include "reference_operator.h"

namespace {

using ref::Vec;

Vec rows(const blorc_array &a, size_t j) {
  return Vec(a.data + j * a.cols, a.data + (j + 1) * a.cols);
}

TEST_F(Cli, DataMakesMeasurementsAndMasks) {
  // sigma 0: y is exactly A x (or x with the missing entries zeroed).
  Result r =
      run("data --kind piecewise --n 8 --count 30 --seed 3 --sigma 0 --clean x.npy "
          "--noisy y.npy --operator cs:5 --operator-seed 9 --matrix a.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  blorc_array x = load("x.npy"), y = load("y.npy"), a = load("a.npy");
  ASSERT_EQ(y.rows, 30u);
  ASSERT_EQ(y.cols, 5u);
  ASSERT_EQ(a.rows, 5u);
  ASSERT_EQ(a.cols, 8u);
  for (size_t j = 0; j < 30; j++)
    for (size_t i = 0; i < 5; i++) {
      double v = 0;
      for (size_t c = 0; c < 8; c++) v += a.data[i * 8 + c] * x.data[j * 8 + c];
      EXPECT_NEAR(y.data[j * 5 + i], v, 1e-14);
    }
  // The same seeds give the same matrix and measurements; another operator seed does not.
  ASSERT_EQ(run("data --kind piecewise --n 8 --count 30 --seed 3 --sigma 0 --clean x2.npy "
                "--noisy y2.npy --operator cs:5 --operator-seed 9 --matrix a2.npy")
                .code,
            0);
  EXPECT_EQ(slurp(path("a.npy")), slurp(path("a2.npy")));
  EXPECT_EQ(slurp(path("y.npy")), slurp(path("y2.npy")));
  ASSERT_EQ(run("data --kind piecewise --n 8 --count 30 --seed 3 --clean x3.npy --noisy y3.npy "
                "--operator cs:5 --operator-seed 10 --matrix a3.npy")
                .code,
            0);
  EXPECT_NE(slurp(path("a.npy")), slurp(path("a3.npy")));
  r =
      run("data --kind piecewise --n 8 --count 400 --seed 3 --sigma 0 --clean x.npy --noisy "
          "y.npy --operator inpaint:0.3 --masks m.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  blorc_array x2 = load("x.npy"), y2 = load("y.npy"), m = load("m.npy");
  ASSERT_EQ(m.rows, 400u);
  ASSERT_EQ(m.cols, 8u);
  size_t missing = 0;
  for (size_t i = 0; i < 400 * 8; i++) {
    ASSERT_TRUE(m.data[i] == 0.0 || m.data[i] == 1.0);
    missing += m.data[i] == 0.0;
    EXPECT_EQ(y2.data[i], m.data[i] * x2.data[i]);
  }
  // 30 % of 3200 entries: binomial standard deviation 26, so +- 130 is 5 of them.
  EXPECT_NEAR((double)missing, 960.0, 130.0);
  blorc_array_free(&x), blorc_array_free(&y), blorc_array_free(&a);
  blorc_array_free(&x2), blorc_array_free(&y2), blorc_array_free(&m);
}

TEST_F(Cli, ReconstructMatchesTheExactMinimiser) {
  for (const char *spec : {"inpaint:0.3", "cs:6", "blur:1"}) {
    std::string op = spec, extra = op == "inpaint:0.3" ? " --masks m.npy" : "";
    Result r =
        run("data --kind piecewise --n 8 --count 20 --seed 5 --clean x.npy --noisy y.npy "
            "--operator " +
            op + extra + (op == "inpaint:0.3" ? "" : " --matrix a.npy"));
    ASSERT_EQ(r.code, 0) << r.err;
    tv(0.15);
    r = run("reconstruct --transform w.npy --input y.npy --output d.npy --operator " + op + extra);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("reconstructed 20 signals"), std::string::npos) << r.out;
    blorc_array y = load("y.npy"), d = load("d.npy"), w = load("w.npy"), a{}, m{};
    if (op == "inpaint:0.3")
      m = load("m.npy");
    else
      a = load("a.npy");
    Vec W(w.data, w.data + 56);
    int exact = 0;
    for (size_t j = 0; j < 20; j++) {
      Vec A;
      int mm = (int)y.cols;
      if (m.data) {
        A.assign(64, 0.0);
        for (int i = 0; i < 8; i++) A[(size_t)i * 8 + i] = m.data[j * 8 + i];
      } else {
        A.assign(a.data, a.data + (size_t)mm * 8);
      }
      // The exact minimiser for the output's own sign pattern (KKT system, reference code),
      // certified optimal by its dual: a wrong pattern cannot pass.
      Vec dj = rows(d, j), wd(7, 0.0);
      std::vector<int> sg(7);
      for (int i = 0; i < 7; i++) {
        for (int c2 = 0; c2 < 8; c2++) wd[i] += W[(size_t)i * 8 + c2] * dj[c2];
        sg[i] = std::fabs(wd[i]) > 1e-7 ? (wd[i] > 0 ? 1 : -1) : 0;
      }
      ref::OpExact e = ref::op_exact_given_signs(W, 7, 8, A, mm, 0.0, rows(y, j), sg, 1e-6, 0);
      if (!e.certified) continue;
      exact++;
      EXPECT_LE(ref::diff_over(rows(d, j), e.x, std::max(ref::norm2(rows(y, j)), 1.0)), 1e-8)
          << op << " signal " << j;
    }
    EXPECT_GE(exact, 15) << op;
    blorc_array_free(&y), blorc_array_free(&d), blorc_array_free(&w), blorc_array_free(&a);
    blorc_array_free(&m);
  }
}

TEST_F(Cli, GradWithAnOperatorMatchesFiniteDifferences) {
  Result r =
      run("data --kind piecewise --n 8 --count 6 --seed 2 --clean x.npy --noisy y.npy "
          "--operator cs:6 --matrix a.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  tv(0.1);
  r =
      run("grad --transform w.npy --clean x.npy --noisy y.npy --output g.npy --check-fd --gamma "
          "1e-8 --operator a.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  size_t at = r.out.find("relative error ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_LT(std::atof(r.out.c_str() + at + 15), 1e-6) << r.out;
}

TEST_F(Cli, EvalTunesTheBaselineForTheOperator) {
  for (int s = 0; s < 2; s++)
    ASSERT_EQ(run("data --kind piecewise --n 16 --count 40 --seed " + std::to_string(s + 1) +
                  " --clean x" + std::to_string(s) + ".npy --noisy y" + std::to_string(s) +
                  ".npy --operator inpaint:0.25 --operator-seed " + std::to_string(s) +
                  " --masks m" + std::to_string(s) + ".npy")
                  .code,
              0);
  tv(0.05, 16);
  Result r =
      run("eval --transform w.npy --clean x0.npy --noisy y0.npy --operator inpaint:0.25 "
          "--masks m0.npy --tune-clean x1.npy --tune-noisy y1.npy --tune-masks m1.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("operator: inpainting"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("noisy input"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tv, beta = "), std::string::npos) << r.out;
  expect_error(run("eval --transform w.npy --clean x0.npy --noisy y0.npy --operator inpaint:0.25 "
                   "--masks m0.npy --tune-clean x1.npy --tune-noisy y1.npy"),
               1, "needs --tune-masks");
}

TEST_F(Cli, TrainWithAnOperatorAndResume) {
  std::string base =
      "train --set data.n=16 --set data.train=120 --set data.val=20 --batch 30 "
      "--set train.checkpoint_every=1 --operator cs:10 ";
  Result full = run(base + "--epochs 3 --out full");
  ASSERT_EQ(full.code, 0) << full.err;
  EXPECT_NE(full.out.find("operator: compressed sensing, 10 x 16"), std::string::npos) << full.out;
  blorc_config c;
  blorc_config_defaults(&c);
  blorc_error e{};
  ASSERT_EQ(blorc_config_load(&c, path("full/config.ini").c_str(), &e), BLORC_OK) << e.msg;
  EXPECT_STREQ(c.op_kind, "cs:10");
  ASSERT_EQ(run(base + "--epochs 2 --out part").code, 0);
  Result r = run("train --resume part --epochs 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(path("full/W.npy")), slurp(path("part/W.npy")));
  std::string log = slurp(path("full/log.csv"));
  EXPECT_NE(log.find(",share_not_unique\n"), std::string::npos) << log;
}

TEST_F(Cli, OperatorBadInput) {
  small_data(10);
  tv(0.1);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:0.3"),
               1, "needs --masks");
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "cs:0"),
               1, "'cs:0', expected cs:M");
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:1.5"),
               1, "0 <= FRACTION < 1");
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "blur2d:1"),
               1, "needs square patches, but n = 8");
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "fourier"),
               1, "expected identity, inpaint:FRACTION, cs:M");
  // y of the wrong width for the operator.
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator cs:4"), 1,
               "expected 4 columns");
  // Masks: wrong shape, values other than 0 and 1, a row that observes nothing.
  save("m.npy", std::vector<double>(10 * 7, 1.0), 10, 7);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:0.3 --masks m.npy"),
               1, "expected 8 columns");
  std::vector<double> mk(80, 1.0);
  mk[3 * 8 + 2] = 0.5;
  save("m.npy", mk, 10, 8);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:0.3 --masks m.npy"),
               1, "value 0.5 at row 3 column 2");
  mk[3 * 8 + 2] = 1;
  std::fill(mk.begin() + 16, mk.begin() + 24, 0.0);
  save("m.npy", mk, 10, 8);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:0.3 --masks m.npy"),
               1, "row 2 observes nothing");
  save("m.npy", std::vector<double>(9 * 8, 1.0), 9, 8);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator "
                   "inpaint:0.3 --masks m.npy"),
               1, "expected one per signal (10)");
  // A matrix file of the wrong width, and one with a NaN.
  save("a.npy", std::vector<double>(4 * 7, 0.5), 4, 7);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator a.npy"),
               1, "expected an m x n matrix with n = 8");
  std::vector<double> A(4 * 8, 0.5);
  A[9] = NAN;
  save("a.npy", A, 4, 8);
  expect_error(run("reconstruct --transform w.npy --input y.npy --output d.npy --operator a.npy"),
               1, "non-finite");
  // denoise is the identity's name; the config's operator is checked before anything runs.
  expect_error(run("denoise --transform w.npy --input y.npy --output d.npy --operator cs:4"), 2,
               "use blorc-gpu reconstruct");
  expect_error(run("train --set data.n=8 --set data.train=20 --set data.val=5 --batch 10 "
                   "--operator blur:-1 --out r"),
               1, "config operator.kind: 'blur:-1'");
  expect_error(run("train --set data.n=8 --set data.train=20 --set data.val=5 --batch 10 "
                   "--set operator.ridge=0.1 --out r"),
               1, "identity with ridge 0.1");
  EXPECT_FALSE(std::ifstream(path("r/W.npy")).good());
}

}  // namespace

namespace {

double loss_of(const Result &r) {
  size_t at = r.out.find("loss ");
  return at == std::string::npos ? NAN : std::atof(r.out.c_str() + at + 5);
}

// grad --output-y and --output-a against central differences of the loss grad prints, with
// perturbed measurement and operator files: the mean loss moves by dU/dy_j / N and dU/dA.
TEST_F(Cli, GradWritesTheGradientsInYAndA) {
  ASSERT_EQ(run("data --kind piecewise --n 8 --count 4 --seed 2 --clean x.npy --noisy y.npy "
                "--operator cs:6 --matrix a.npy")
                .code,
            0);
  tv(0.1);
  const std::string base = "grad --transform w.npy --clean x.npy --gamma 1e-8 --output g.npy ";
  Result r = run(base + "--noisy y.npy --operator a.npy --output-y gy.npy --output-a ga.npy");
  ASSERT_EQ(r.code, 0) << r.err;
  blorc_array y = load("y.npy"), a = load("a.npy"), gy = load("gy.npy"), ga = load("ga.npy");
  ASSERT_EQ(gy.rows, 4u);
  ASSERT_EQ(gy.cols, 6u);
  ASSERT_EQ(ga.rows, 6u);
  ASSERT_EQ(ga.cols, 8u);
  const double h = 1e-6;
  auto fd = [&](blorc_array &arr, const std::string &file, const std::string &flags, size_t i) {
    double keep = arr.data[i], l[2];
    for (int s = 0; s < 2; s++) {
      arr.data[i] = keep + (s ? -h : h);
      save(file, std::vector<double>(arr.data, arr.data + arr.rows * arr.cols), arr.rows, arr.cols);
      l[s] = loss_of(run(base + flags));
    }
    arr.data[i] = keep;
    save(file, std::vector<double>(arr.data, arr.data + arr.rows * arr.cols), arr.rows, arr.cols);
    return (l[0] - l[1]) / (2 * h);
  };
  Vec fy(24), fa(48);
  for (size_t i = 0; i < 24; i++) fy[i] = 4 * fd(y, "y.npy", "--noisy y.npy --operator a.npy", i);
  for (size_t i = 0; i < 48; i++) fa[i] = fd(a, "a.npy", "--noisy y.npy --operator a.npy", i);
  // The loss is printed to 12 digits: with h = 1e-6 the differences carry about 1e-7 of noise
  // relative to these gradients, while a wrong term is off by O(1).
  EXPECT_LE(ref::rel_diff(Vec(gy.data, gy.data + 24), fy), 1e-5);
  EXPECT_LE(ref::rel_diff(Vec(ga.data, ga.data + 48), fa), 1e-5);
  blorc_array_free(&y), blorc_array_free(&a), blorc_array_free(&gy), blorc_array_free(&ga);
  expect_error(run(base + "--noisy y.npy --output-y gy.npy"), 2, "go with --operator");
}

}  // namespace
