// A thin C++ wrapper over the public backend API for the tests: throws on any error so a
// failing call fails the test with the library's message.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "blorc/blorc.h"

namespace lib {

using Vec = std::vector<double>;

inline void check(blorc_status st, const blorc_error &e, const char *what) {
  if (st != BLORC_OK) throw std::runtime_error(std::string(what) + ": " + e.msg);
}

struct Params {
  double rho = 1.0;
  double gamma = 1e-3;
  double svd_tol = 1e-10;
  blorc_admm_opts admm = blorc_admm_defaults();
};

class Run {
 public:
  Run(int n, int k, int cap, blorc_device dev = BLORC_DEVICE_CPU) : n_(n), k_(k) {
    blorc_error e{};
    check(blorc_backend_create(dev, n, k, cap, &b_, &e), e, "create");
  }
  ~Run() { blorc_backend_destroy(b_); }
  Run(const Run &) = delete;
  Run &operator=(const Run &) = delete;

  void set_W(const Vec &W) {
    blorc_error e{};
    check(blorc_write(b_, BLORC_BUF_W, W.data(), W.size(), &e), e, "write W");
  }
  void set_data(const Vec &X, const Vec &Y) {
    blorc_error e{};
    check(blorc_set_data(b_, Y.size() / n_, X.empty() ? nullptr : X.data(), Y.data(), &e), e,
          "set_data");
  }
  void select(const std::vector<size_t> &idx) {
    blorc_error e{};
    check(blorc_select(b_, idx.data(), (int)idx.size(), &e), e, "select");
  }
  void shuffle(uint64_t seed, size_t count) {
    blorc_error e{};
    check(blorc_shuffle(b_, seed, count, &e), e, "shuffle");
  }
  void select_shuffled(size_t start, int B) {
    blorc_error e{};
    check(blorc_select_shuffled(b_, start, B, &e), e, "select_shuffled");
  }
  void select_first(int B) {
    std::vector<size_t> idx(B);
    for (int j = 0; j < B; j++) idx[j] = j;
    select(idx);
  }
  blorc_admm_stats solve(const Params &p) {  // stages 1-2
    blorc_error e{};
    blorc_admm_stats st{};
    check(blorc_factor(b_, p.rho, &e), e, "factor");
    check(blorc_admm(b_, &p.admm, &st, &e), e, "admm");
    return st;
  }
  void analyse(const Params &p) {  // stages 3-5
    blorc_error e{};
    check(blorc_signs(b_, p.gamma, &e), e, "signs");
    check(blorc_svd(b_, p.svd_tol, &e), e, "svd");
    check(blorc_closed_form(b_, &e), e, "closed_form");
  }
  blorc_polish_stats polish(double tol = 1e-6, int max_rounds = 64) {
    blorc_error e{};
    blorc_polish_opts o = blorc_polish_defaults();
    o.tol = tol, o.max_rounds = max_rounds;
    blorc_polish_stats st{};
    check(blorc_polish(b_, &o, &st, &e), e, "polish");
    return st;
  }
  double gradient() {
    blorc_error e{};
    double loss = 0;
    check(blorc_gradient(b_, &loss, &e), e, "gradient");
    return loss;
  }
  Vec read(blorc_buffer which) const {
    blorc_error e{};
    Vec out(blorc_buffer_size(b_, which));
    check(blorc_read(b_, which, out.data(), out.size(), &e), e, "read");
    return out;
  }
  // Stages 1-6 with ADMM converged to tol (cap max_iters), the other options default.
  double through_gradient(double tol = 1e-10, int max_iters = 20000) {
    Params prm;
    prm.admm.tol = tol;
    prm.admm.max_iters = max_iters;
    solve(prm);
    analyse(prm);
    return gradient();
  }
  blorc_backend *get() { return b_; }

 private:
  blorc_backend *b_ = nullptr;
  int n_, k_;
};

// Column j of a B x len sample-major buffer.
inline Vec sample(const Vec &buf, int len, int j) {
  return Vec(buf.begin() + (size_t)j * len, buf.begin() + (size_t)(j + 1) * len);
}

}  // namespace lib
