// The fixture of the end-to-end tests: a fresh directory per test, blorc-gpu run in it with
// a shell word list, and helpers for .npy files and one-line errors.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "blorc/blorc.h"

struct Result {
  int code;
  std::string out, err;
};

inline std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// log.csv without its timing columns (seconds, samples_per_s), which vary from run to run.
inline std::string log_without_times(const std::string &log) {
  std::stringstream in(log), out;
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream f(line);
    std::string field;
    for (int col = 0; std::getline(f, field, ','); col++)
      if (col != 4 && col != 5) out << field << ',';
    out << '\n';
  }
  return out.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo *t = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::string(BLORC_TEST_TMPDIR) + "/" + t->test_suite_name() + "_" + t->name();
    std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str());
  }
  std::string path(const std::string &name) const { return dir_ + "/" + name; }
  // Runs blorc-gpu with args (a shell word list) in the test's directory.
  Result run(const std::string &args) const {
    std::string cmd =
        "cd '" + dir_ + "' && '" BLORC_CLI_PATH "' " + args + " >stdout.txt 2>stderr.txt";
    int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(path("stdout.txt")),
            slurp(path("stderr.txt"))};
  }
  blorc_array load(const std::string &name) const {
    blorc_array a{};
    blorc_error e{};
    EXPECT_EQ(blorc_npy_load(path(name).c_str(), &a, &e), BLORC_OK) << e.msg;
    return a;
  }
  void save(const std::string &name, const std::vector<double> &v, size_t rows, size_t cols) const {
    blorc_error e{};
    ASSERT_EQ(blorc_npy_save(path(name).c_str(), v.data(), 2, rows, cols, &e), BLORC_OK) << e.msg;
  }
  // Small data: piecewise constant, n = 8.
  void small_data(int count = 40) const {
    Result r = run("data --kind piecewise --n 8 --count " + std::to_string(count) +
                   " --seed 3 --clean x.npy --noisy y.npy");
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void tv(double scale, int n = 8) const {
    std::vector<double> W((size_t)(n - 1) * n);
    blorc_transform_fill(BLORC_TRANSFORM_FD1, n, scale, W.data(), nullptr);
    save("w.npy", W, n - 1, n);
  }
  // A single error line on stderr containing what, and the exit code.
  void expect_error(const Result &r, int code, const std::string &what) const {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  std::string dir_;
};
