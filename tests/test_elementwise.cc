// The shared per-element math (blorc/elementwise.h) that the CPU backend and the CUDA
// kernels both execute.
#include <gtest/gtest.h>

#include <cmath>

#include "blorc/elementwise.h"

TEST(Elementwise, SoftThresholdIsTheProxOfAbs) {
  EXPECT_EQ(blorc_soft(3.0, 1.0), 2.0);
  EXPECT_EQ(blorc_soft(-3.0, 1.0), -2.0);
  EXPECT_EQ(blorc_soft(0.5, 1.0), 0.0);
  EXPECT_EQ(blorc_soft(-1.0, 1.0), 0.0);
  // prox property: v - soft(v, t) lies in t * subdifferential of |.| at soft(v, t)
  for (double v = -3; v <= 3; v += 0.125) {
    double z = blorc_soft(v, 0.75), d = v - z;
    if (z != 0)
      EXPECT_DOUBLE_EQ(d, z > 0 ? 0.75 : -0.75);
    else
      EXPECT_LE(std::fabs(d), 0.75);
  }
}

TEST(Elementwise, ThresholdedSign) {
  EXPECT_EQ(blorc_thresh_sign(2e-3, 1e-3), 1.0);
  EXPECT_EQ(blorc_thresh_sign(-2e-3, 1e-3), -1.0);
  EXPECT_EQ(blorc_thresh_sign(1e-3, 1e-3), 0.0);  // |v| must exceed gamma
  EXPECT_EQ(blorc_thresh_sign(-5e-4, 1e-3), 0.0);
  EXPECT_EQ(blorc_thresh_sign(0.0, 0.0), 0.0);
}

TEST(Elementwise, AdmmEntryUpdate) {
  double z = 0.2, u = 0.1, r2 = 0, dz = 0;
  blorc_admm_zu(1.0, 0.5, &z, &u, &r2, &dz);  // z = soft(1.1, 0.5) = 0.6
  EXPECT_DOUBLE_EQ(z, 0.6);
  EXPECT_DOUBLE_EQ(u, 0.1 + 1.0 - 0.6);
  EXPECT_DOUBLE_EQ(r2, 0.4 * 0.4);
  EXPECT_DOUBLE_EQ(dz, 0.6 - 0.2);
  EXPECT_TRUE(blorc_admm_converged(1e-20, 1e-20, 1e-9, 0.5));
  EXPECT_FALSE(blorc_admm_converged(1e-16, 0, 1e-9, 0.5));  // eps = 1e-9 (scale floors at 1)
  EXPECT_TRUE(blorc_admm_converged(1e-16, 0, 1e-9, 20.0));  // eps = 2e-8
}
