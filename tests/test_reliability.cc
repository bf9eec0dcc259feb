// What a trusted trainer promises, tested end to end on the blorc-gpu program:
// - determinism: the same run three times writes the same files, bit for bit (log.csv but
//   its two time columns);
// - kill -9: a run killed at five moments (one inside a checkpoint write, one inside the log
//   write, one inside the final outputs) and resumed each time ends with the files of an
//   uninterrupted run, and no torn file is ever visible;
// - a full disk (RLIMIT_FSIZE, SIGXFSZ ignored): every writer fails with one line naming the
//   file and the cause, a non-zero exit, and what was written before is intact;
// - the BLAS kernel family: a fallback is replaced on CPUs with AVX2 or AVX-512.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "cli_fixture.h"

namespace {

class Reliability : public Cli {
 protected:
  // Starts blorc-gpu in the background with extra environment assignments ("A=1 B=2").
  pid_t spawn(const std::string &args, const std::string &env = "") const {
    std::string cmd = "cd '" + dir_ + "' && exec env " + env + " '" + BLORC_CLI_PATH "' " + args +
                      " >>bg_stdout.txt 2>>bg_stderr.txt";
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *)nullptr);
      _exit(127);
    }
    return pid;
  }
  // Runs blorc-gpu with every file it writes limited to `bytes` (as on a full disk: writes
  // past the limit fail with EFBIG instead of killing the process).
  Result run_limited(const std::string &args, long bytes) const {
    return run_wrapped("trap '' XFSZ && exec prlimit --fsize=" + std::to_string(bytes) + " ", args);
  }
  Result run_wrapped(const std::string &prefix, const std::string &args) const {
    std::string cmd = "cd '" + dir_ + "' && " + prefix + "'" BLORC_CLI_PATH "' " + args +
                      " >stdout.txt 2>stderr.txt";
    int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(path("stdout.txt")),
            slurp(path("stderr.txt"))};
  }
  bool exists(const std::string &name) const {
    struct stat st;
    return stat(path(name).c_str(), &st) == 0;
  }
  long size(const std::string &name) const {
    struct stat st;
    return stat(path(name).c_str(), &st) == 0 ? (long)st.st_size : -1;
  }
  // Names in a directory of the test's (relative), without . and ..
  std::vector<std::string> list(const std::string &name) const {
    std::vector<std::string> out;
    DIR *d = opendir(path(name).c_str());
    while (d) {
      struct dirent *de = readdir(d);
      if (!de) break;
      if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) out.push_back(de->d_name);
    }
    if (d) closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  // Every file of a run directory (checkpoints included) with its contents; log.csv without
  // its time columns (seconds, samples_per_s).
  std::map<std::string, std::string> files(const std::string &run) const {
    std::map<std::string, std::string> out;
    std::function<void(const std::string &)> walk = [&](const std::string &rel) {
      for (const std::string &e : list(run + "/" + rel)) {
        std::string r = rel.empty() ? e : rel + "/" + e;
        struct stat st;
        stat(path(run + "/" + r).c_str(), &st);
        if (S_ISDIR(st.st_mode))
          walk(r);
        else
          out[r] = r == "log.csv" ? without_times(slurp(path(run + "/" + r)))
                                  : slurp(path(run + "/" + r));
      }
    };
    walk("");
    return out;
  }
  static std::string without_times(const std::string &log) { return log_without_times(log); }
  // What a reader may see of a run at any moment: `latest` names a complete checkpoint,
  // every .npy under its final name loads, and log.csv holds whole rows.
  void expect_nothing_torn(const std::string &run, const std::string &when) const {
    if (exists(run + "/checkpoints/latest")) {
      std::string name = slurp(path(run + "/checkpoints/latest"));
      ASSERT_FALSE(name.empty()) << when;
      ASSERT_EQ(name.back(), '\n') << when;
      name.pop_back();
      std::vector<std::string> have = list(run + "/checkpoints/" + name);
      for (const char *f : {"W.npy", "W_best.npy", "adam_m.npy", "adam_v.npy", "meta.ini",
                            "signs.npy", "state_lambda.npy", "state_z.npy"})
        EXPECT_NE(std::find(have.begin(), have.end(), f), have.end())
            << when << ": " << name << " lacks " << f;
      for (const std::string &f : have)
        if (f.size() > 4 && f.compare(f.size() - 4, 4, ".npy") == 0) {
          blorc_array a{};
          blorc_error e{};
          EXPECT_EQ(blorc_npy_load(path(run + "/checkpoints/" + name + "/" + f).c_str(), &a, &e),
                    BLORC_OK)
              << when << ": " << e.msg;
          blorc_array_free(&a);
        }
    }
    for (const char *f : {"W.npy", "W_best.npy"})
      if (exists(run + "/" + f)) {
        blorc_array a{};
        blorc_error e{};
        EXPECT_EQ(blorc_npy_load(path(run + "/" + f).c_str(), &a, &e), BLORC_OK)
            << when << ": " << e.msg;
        blorc_array_free(&a);
      }
    if (exists(run + "/log.csv")) {
      std::string log = slurp(path(run + "/log.csv"));
      ASSERT_FALSE(log.empty()) << when;
      EXPECT_EQ(log.back(), '\n') << when;
      std::stringstream in(log);
      std::string line;
      std::getline(in, line);
      size_t cols = std::count(line.begin(), line.end(), ',');
      while (std::getline(in, line))
        EXPECT_EQ((size_t)std::count(line.begin(), line.end(), ','), cols) << when << ": " << line;
    }
  }
  // Waits until cond holds (then kills pid with SIGKILL and returns true) or pid exits.
  bool kill_when(pid_t pid, const std::function<bool()> &cond, const std::string &when) const {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
      if (cond()) {
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      }
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        ADD_FAILURE() << when << ": the run ended before the moment came; stderr: "
                      << slurp(path("bg_stderr.txt"));
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ADD_FAILURE() << when << ": timed out";
    return false;
  }
  bool any_name_has(const std::string &dir, const std::string &part) const {
    for (const std::string &e : list(dir))
      if (e.find(part) != std::string::npos) return true;
    return false;
  }
};

// n = 64 (the default) on 340 signals, 8 epochs, a checkpoint after each.
const char *kRun =
    "train --set data.train=300 --set data.val=40 --batch 100 --epochs 8 "
    "--set train.checkpoint_every=1";

TEST_F(Reliability, ThreeRunsWriteIdenticalFiles) {
  std::map<std::string, std::string> first;
  for (int rep = 0; rep < 3; rep++) {
    std::string out = "run" + std::to_string(rep);
    Result r = run(std::string(kRun) + " --epochs 3 --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    std::map<std::string, std::string> f = files(out);
    ASSERT_GE(f.size(), 13u) << "W, W_best, filters, config, log and a checkpoint";
    if (rep == 0) {
      first = f;
      continue;
    }
    ASSERT_EQ(f.size(), first.size());
    for (const auto &kv : first) EXPECT_TRUE(f[kv.first] == kv.second) << kv.first << " differs";
  }
}

TEST_F(Reliability, KilledFiveTimesAndResumedEndsAsAnUnbrokenRun) {
  Result ref = run(std::string(kRun) + " --out ref");
  ASSERT_EQ(ref.code, 0) << ref.err;
  const std::string resume = "train --resume run --epochs 8";
  const std::string delay = "BLORC_TEST_WRITE_DELAY_MS=300 BLORC_TEST_WRITE_DELAY_MATCH=";
  // 1: early, once the run directory holds its config (before the first checkpoint).
  pid_t p = spawn(std::string(kRun) + " --out run");
  ASSERT_TRUE(kill_when(
      p, [&] { return exists("run/config.ini"); }, "kill 1"));
  expect_nothing_torn("run", "after kill 1");
  // 2: inside a checkpoint write (each of its files pauses before its rename).
  p = spawn(resume, delay + "checkpoints/");
  ASSERT_TRUE(kill_when(
      p, [&] { return any_name_has("run/checkpoints", ".epoch-"); }, "kill 2"));
  expect_nothing_torn("run", "after kill 2");
  // 3: inside the write of log.csv.
  p = spawn(resume, delay + "log.csv");
  ASSERT_TRUE(kill_when(
      p, [&] { return any_name_has("run", "log.csv.tmp."); }, "kill 3"));
  expect_nothing_torn("run", "after kill 3");
  // 4: in the middle of an epoch, just after a checkpoint completed.
  std::string before = slurp(path("run/checkpoints/latest"));
  p = spawn(resume);
  ASSERT_TRUE(kill_when(
      p,
      [&] {
        std::string now = slurp(path("run/checkpoints/latest"));
        return !now.empty() && now != before;
      },
      "kill 4"));
  expect_nothing_torn("run", "after kill 4");
  // 5: inside the final outputs, W.npy written and W_best.npy not yet renamed.
  p = spawn(resume, delay + "run/W_best.npy");
  ASSERT_TRUE(kill_when(
      p, [&] { return any_name_has("run", "W_best.npy.tmp."); }, "kill 5"));
  expect_nothing_torn("run", "after kill 5");
  Result r = run(resume);
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::string> want = files("ref"), got = files("run");
  for (const char *f : {"W.npy", "W_best.npy", "log.csv", "filters.png", "config.ini"})
    EXPECT_TRUE(want[f] == got[f]) << f << " differs from the unbroken run's";
  EXPECT_EQ(want.size(), got.size()) << "no stray files left behind";
  for (const auto &kv : want) EXPECT_TRUE(got[kv.first] == kv.second) << kv.first << " differs";
}

// One line naming the file and the cause, and a non-zero exit.
void expect_full_disk_error(const Result &r, const std::string &file) {
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(Reliability, FullDiskNpyWriterKeepsThePreviousFile) {
  ASSERT_EQ(run("data --kind piecewise --n 64 --count 10 --clean x.npy --noisy y.npy").code, 0);
  std::string x = slurp(path("x.npy")), y = slurp(path("y.npy"));
  Result r = run_limited("data --kind piecewise --n 64 --count 1000 --clean x.npy --noisy y.npy",
                         100000);  // 1000 x 64 doubles are 512 kB
  expect_full_disk_error(r, "x.npy");
  EXPECT_TRUE(slurp(path("x.npy")) == x);
  EXPECT_TRUE(slurp(path("y.npy")) == y);
  EXPECT_FALSE(any_name_has(".", ".tmp.")) << "the temporary file is removed";
}

TEST_F(Reliability, FullDiskPngWriterKeepsThePreviousPicture) {
  tv(0.5, 64);
  ASSERT_EQ(run("filters --transform w.npy --output f.png").code, 0);
  std::string before = slurp(path("f.png"));
  ASSERT_GT(before.size(), 2000u);
  tv(-0.3, 64);
  expect_full_disk_error(run_limited("filters --transform w.npy --output f.png", 1024), "f.png");
  EXPECT_TRUE(slurp(path("f.png")) == before);
  EXPECT_FALSE(any_name_has(".", ".tmp."));
}

TEST_F(Reliability, FullDiskCheckpointWriterKeepsThePreviousCheckpoint) {
  ASSERT_EQ(run(std::string(kRun) + " --epochs 2 --out run").code, 0);
  std::map<std::string, std::string> before = files("run");
  // config.ini (about 1 kB) and the log fit; the checkpoint's 32 kB W.npy does not.
  ASSERT_LT(size("run/config.ini"), 8000);
  ASSERT_GT(size("run/checkpoints/epoch-000002/W.npy"), 8000);
  Result r = run_limited("train --resume run --epochs 4", 8000);
  expect_full_disk_error(r, "run/checkpoints/.epoch-000003.tmp/W.npy");
  std::map<std::string, std::string> after = files("run");
  for (const auto &kv : before)
    // log.csv holds epoch 3 now (a resume drops rows past the checkpoint); config.ini
    // records the new --epochs.
    if (kv.first != "log.csv" && kv.first != "config.ini")
      EXPECT_TRUE(after[kv.first] == kv.second) << kv.first << " changed";
  EXPECT_EQ(slurp(path("run/checkpoints/latest")), "epoch-000002\n");
  // The run goes on from its last checkpoint once there is room.
  ASSERT_EQ(run("train --resume run --epochs 4").code, 0);
  EXPECT_EQ(slurp(path("run/checkpoints/latest")), "epoch-000004\n");
}

TEST_F(Reliability, FullDiskLogWriterKeepsTheLastWholeLog) {
  // n = 4 and 30 signals: every file but the growing log stays under about 1.2 kB, and
  // checkpoints come only at the end.
  const std::string args =
      "train --set data.n=4 --set data.train=24 --set data.val=6 --batch 24 --epochs 30 "
      "--set train.checkpoint_every=1000 --out run";
  ASSERT_EQ(run(args).code, 0);
  long cfg = size("run/config.ini"), log = size("run/log.csv");
  ASSERT_GT(log, cfg + 400) << "the log must outgrow config.ini for this test";
  for (const std::string &f : list("run/checkpoints/epoch-000030"))
    ASSERT_LT(size("run/checkpoints/epoch-000030/" + f), cfg) << f;
  long limit = cfg + 200;
  Result r = run_limited(args + " --force", limit);
  expect_full_disk_error(r, "run/log.csv");
  std::string kept = slurp(path("run/log.csv"));
  EXPECT_LE((long)kept.size(), limit);
  EXPECT_GT(kept.size(), 300u);
  EXPECT_EQ(kept.back(), '\n');
  expect_nothing_torn("run", "after the log write failed");
}

TEST_F(Reliability, FallbackKernelsAreReplacedOnVectorCpus) {
  blorc_blas_info bi;
  blorc_blas_query(&bi);
  std::string isa = bi.isa;
  if (isa != "AVX2" && isa != "AVX-512")
    GTEST_SKIP() << "this CPU has " << isa << ", no AVX2 or AVX-512: no fallback to replace";
  if (const char *pinned = std::getenv("OPENBLAS_CORETYPE"))
    GTEST_SKIP() << "OPENBLAS_CORETYPE=" << pinned
                 << " pins the kernels here (blorc never replaces them): not exercised";
  Result r = run_wrapped("env BLORC_EMULATE_BLAS_FALLBACK=1 ", "--version");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("OpenBLAS chose Prescott"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selected by blorc for " + isa), std::string::npos) << r.out;
  r = run_wrapped("env OPENBLAS_CORETYPE=Prescott ", "--version");
  EXPECT_NE(r.out.find("Prescott kernels (forced by OPENBLAS_CORETYPE"), std::string::npos)
      << r.out;
  r = run_wrapped("env BLORC_EMULATE_BLAS_FALLBACK=1 ",
                  "bench --device cpu --n 8 --batch 4 --iters 10 --repeat 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("BLAS: OpenBLAS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("selected by blorc"), std::string::npos) << r.out;
}

}  // namespace
