// Run configurations: the shipped INI files, round trips, and errors that name the key.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "blorc/config.h"

namespace {

std::string src(const char *name) {
  return std::string(BLORC_SOURCE_DIR) + "/configs/" + name;
}

TEST(Config, DefaultIniIsTheBuiltInDefault) {
  blorc_config builtin, file;
  blorc_config_defaults(&builtin);
  blorc_config_defaults(&file);
  std::memset(file.init, 'x', sizeof file.init - 1);  // every key must come from the file
  file.epochs = -7;
  blorc_error e{};
  ASSERT_EQ(blorc_config_load(&file, src("default.ini").c_str(), &e), BLORC_OK) << e.msg;
  blorc_config_defaults(&builtin);
  EXPECT_STREQ(file.init, builtin.init);
  EXPECT_EQ(file.epochs, builtin.epochs);
  // Compare the rest field by field through the writer.
  char *a = nullptr, *b = nullptr;
  size_t la, lb;
  FILE *fa = open_memstream(&a, &la), *fb = open_memstream(&b, &lb);
  blorc_config_write(&file, fa);
  blorc_config_write(&builtin, fb);
  fclose(fa), fclose(fb);
  EXPECT_STREQ(a, b);
  free(a), free(b);
}

TEST(Config, PaperConfigsLoadAndPass) {
  for (const char *name : {"paper-piecewise.ini", "paper-dct.ini", "paper-stripes.ini"}) {
    blorc_config c;
    blorc_config_defaults(&c);
    blorc_error e{};
    ASSERT_EQ(blorc_config_load(&c, src(name).c_str(), &e), BLORC_OK) << name << ": " << e.msg;
    EXPECT_EQ(blorc_config_check(&c, &e), BLORC_OK) << name << ": " << e.msg;
    EXPECT_EQ(c.epochs, 750) << name;
    EXPECT_EQ(c.batch, 100) << name;
    EXPECT_STREQ(c.optimizer, "sgd") << name;
  }
}

TEST(Config, WriteThenLoadRoundTrips) {
  blorc_config c, d;
  blorc_config_defaults(&c);
  blorc_error e{};
  ASSERT_EQ(blorc_config_set(&c, "train.lr", "0.1", "test", &e), BLORC_OK);
  ASSERT_EQ(blorc_config_set(&c, "admm.tol", "3.3e-9", "test", &e), BLORC_OK);
  ASSERT_EQ(blorc_config_set(&c, "data.clean", "/tmp/x y.npy", "test", &e), BLORC_OK);
  std::string p = std::string(BLORC_TEST_TMPDIR) + "/rt.ini";
  FILE *f = fopen(p.c_str(), "w");
  blorc_config_write(&c, f);
  fclose(f);
  blorc_config_defaults(&d);
  ASSERT_EQ(blorc_config_load(&d, p.c_str(), &e), BLORC_OK) << e.msg;
  EXPECT_EQ(d.lr, 0.1);
  EXPECT_EQ(d.tol, 3.3e-9);  // shortest round-trip text, exact
  EXPECT_STREQ(d.clean, "/tmp/x y.npy");
}

TEST(Config, ErrorsNameTheKeyAndTheExpectation) {
  blorc_config c;
  blorc_config_defaults(&c);
  blorc_error e{};
  EXPECT_EQ(blorc_config_set(&c, "train.optimizer", "rmsprop", "flag --optimizer", &e),
            BLORC_EINVAL);
  EXPECT_STREQ(e.msg, "flag --optimizer: train.optimizer = 'rmsprop', expected one of sgd|adam");
  EXPECT_EQ(blorc_config_set(&c, "train.lr", "1e-3x", "f.ini:4", &e), BLORC_EINVAL);
  EXPECT_STREQ(e.msg, "f.ini:4: train.lr = '1e-3x', expected a finite number");
  EXPECT_EQ(blorc_config_set(&c, "nosection", "1", "x", &e), BLORC_EINVAL);
  c.batch = 5000;
  EXPECT_EQ(blorc_config_check(&c, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("train.batch = 5000"), std::string::npos) << e.msg;
  std::string p = std::string(BLORC_TEST_TMPDIR) + "/bad.ini";
  FILE *f = fopen(p.c_str(), "w");
  fputs("[data]\nn = 8\nthis line is not ini\n", f);
  fclose(f);
  blorc_config_defaults(&c);
  EXPECT_EQ(blorc_config_load(&c, p.c_str(), &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("bad.ini:3: malformed line"), std::string::npos) << e.msg;
  EXPECT_EQ(c.n, 64) << "a failed load changes nothing";
}

}  // namespace

// The key table as bindings see it: every key listed reads back what blorc_config_set stored
// (as text that sets the same value), unknown keys are errors, and the list ends.
TEST(Config, KeysListAndReadBack) {
  blorc_config c;
  blorc_config_defaults(&c);
  blorc_error e{};
  const char *section, *key, *help;
  size_t count = 0;
  for (size_t i = 0; blorc_config_key(i, &section, &key, &help); i++, count++) {
    std::string name = std::string(section) + "." + key;
    char buf[600];
    ASSERT_EQ(blorc_config_get(&c, name.c_str(), buf, sizeof buf, &e), BLORC_OK) << e.msg;
    blorc_config copy = c;
    ASSERT_EQ(blorc_config_set(&copy, name.c_str(), buf, "test", &e), BLORC_OK)
        << name << ": " << e.msg;
    EXPECT_EQ(std::memcmp(&copy, &c, sizeof c), 0) << name;
    EXPECT_GT(std::strlen(help), 0u);
  }
  EXPECT_GE(count, 30u);
  ASSERT_EQ(blorc_config_set(&c, "train.lr", "0.0123", "test", &e), BLORC_OK);
  char buf[64];
  ASSERT_EQ(blorc_config_get(&c, "train.lr", buf, sizeof buf, &e), BLORC_OK);
  EXPECT_STREQ(buf, "0.0123");
  EXPECT_EQ(blorc_config_get(&c, "train.nope", buf, sizeof buf, &e), BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "train.nope"), nullptr);
}
