// Data-parallel training over MPI (issue 18), end to end: `mpirun -np 2 blorc-gpu train`
// against one process, run against run, resumed against unbroken, and a bad input on one rank.
// Built with BLORC_MPI only (preset mpi); each mpirun is limited to 300 s, so a hang fails.
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "cli_fixture.h"

namespace {

const char *kSmall =
    "--set data.train=400 --set data.val=40 --set train.checkpoint_every=1 --set data.n=32";

class Mpi : public Cli {
 protected:
  // blorc-gpu under mpirun with np ranks (oversubscribed: CI has 2 cores; as root, allowed).
  Result mpirun(int np, const std::string &args) const {
    std::string launcher = "timeout 300 mpirun -np " + std::to_string(np) + " --oversubscribe" +
                           (geteuid() == 0 ? " --allow-run-as-root" : "") + " ";
    std::string cmd = "cd '" + dir_ + "' && OMPI_MCA_btl_vader_single_copy_mechanism=none " +
                      launcher + "'" BLORC_CLI_PATH "' " + args + " >stdout.txt 2>stderr.txt";
    int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(path("stdout.txt")),
            slurp(path("stderr.txt"))};
  }
  std::vector<double> W(const std::string &file) const {
    blorc_array a = load(file);
    std::vector<double> v(a.data, a.data + a.rows * a.cols);
    blorc_array_free(&a);
    return v;
  }
  // Our one line first on stderr, once (mpirun adds its own report of the exit codes after
  // it), and the exit code.
  void expect_mpi_error(const Result &r, int code, const std::string &what) const {
    EXPECT_EQ(r.code, code) << r.err;
    std::string first = r.err.substr(0, r.err.find('\n'));
    EXPECT_NE(first.find(what), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(r.err.find(what), r.err.rfind(what)) << "once: " << r.err;
  }
  std::string log_of(const std::string &file) const { return log_without_times(slurp(path(file))); }
};

double max_rel(const std::vector<double> &a, const std::vector<double> &b) {
  double d = 0, s = 0;
  for (size_t i = 0; i < a.size(); i++) d = std::fmax(d, std::fabs(a[i] - b[i]));
  for (double v : b) s = std::fmax(s, std::fabs(v));
  return d / s;
}

// Two ranks take the same minibatches as one process (the same shuffle; each rank its shard's
// samples of them) and sum their gradients in rank order: W differs only by the order of
// additions, 1e-16 relative per step; three epochs of Adam (12 steps) keep that below 1e-12
// here. The bound 1e-9 leaves room for a sign pattern read differently at gamma (a flip moves
// x* by about gamma), never for a wrong or missing share of the gradient (order 1e-2).
TEST_F(Mpi, TwoRanksMatchOneProcess) {
  Result one = run(std::string("train --epochs 3 --out one ") + kSmall);
  ASSERT_EQ(one.code, 0) << one.err;
  Result two = mpirun(2, std::string("train --epochs 3 --out two ") + kSmall);
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(two.err.find("warning"), std::string::npos) << two.err;
  double d = max_rel(W("two/W.npy"), W("one/W.npy"));
  std::printf("[ mpi ] 2 ranks against 1 process after 3 epochs: max |dW| / max |W| = %.3g\n", d);
  EXPECT_LE(d, 1e-9);
  EXPECT_NE(slurp(path("two/log.csv")).find("\n3,"), std::string::npos);
  EXPECT_TRUE(std::ifstream(path("two/filters.png")).good());
}

TEST_F(Mpi, TwoRankRunsAreBitIdentical) {
  for (const char *out : {"a", "b"}) {
    Result r = mpirun(2, std::string("train --epochs 2 --out ") + out + " " + kSmall);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  for (const char *f : {"W.npy", "W_best.npy"})
    EXPECT_EQ(slurp(path(std::string("a/") + f)), slurp(path(std::string("b/") + f))) << f;
  EXPECT_EQ(log_of("a/log.csv"), log_of("b/log.csv"));
}

// The checkpoint holds the whole sets' warm starts (gathered by rank 0), so a resumed 2-rank run
// continues exactly; one process resuming it agrees within the bound above.
TEST_F(Mpi, ResumeUnderTwoRanksEqualsAnUnbrokenRun) {
  Result r = mpirun(2, std::string("train --epochs 4 --out whole ") + kSmall);
  ASSERT_EQ(r.code, 0) << r.err;
  r = mpirun(2, std::string("train --epochs 2 --out part ") + kSmall);
  ASSERT_EQ(r.code, 0) << r.err;
  std::system(("cp -r '" + path("part") + "' '" + path("part1") + "'").c_str());
  r = mpirun(2, "train --resume part --epochs 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(path("whole/W.npy")), slurp(path("part/W.npy")));
  EXPECT_EQ(slurp(path("whole/W_best.npy")), slurp(path("part/W_best.npy")));
  EXPECT_EQ(log_of("whole/log.csv"), log_of("part/log.csv"));
  r = run("train --resume part1 --epochs 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LE(max_rel(W("part1/W.npy"), W("whole/W.npy")), 1e-9);
}

// A non-finite value in a row only rank 1 reads: every rank stops, with rank 1's message, and
// rank 0 never read that row (it would have reported first).
TEST_F(Mpi, BadInputOnOneRankStopsEveryRank) {
  const int n = 8, N = 60;
  Result g = run("data --kind piecewise --n 8 --count 60 --seed 3 --clean x.npy --noisy y.npy");
  ASSERT_EQ(g.code, 0) << g.err;
  blorc_array y = load("y.npy");
  std::vector<double> v(y.data, y.data + (size_t)N * n);
  blorc_array_free(&y);
  v[(size_t)45 * n + 2] = NAN; /* training rows 0..49: rank 1 holds 25..49 */
  save("y.npy", v, N, n);
  Result r = mpirun(2,
                    "train --out bad --set data.kind=files --set data.clean=x.npy --set "
                    "data.noisy=y.npy --set data.n=8 --set data.train=50 --set data.val=10 "
                    "--set train.batch=10 --epochs 1");
  expect_mpi_error(r, 1, "blorc-gpu train: rank 1: y.npy: non-finite value at row 45 column 2");
}

TEST_F(Mpi, OnlyTrainRunsOnSeveralRanks) {
  Result r = mpirun(2, "data --kind piecewise --n 8 --count 5 --clean x.npy --noisy y.npy");
  expect_mpi_error(r, 2, "only train is data-parallel");
}

}  // namespace
