// .npy read/write: round trips, a header built by hand byte for byte, and malformed files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "blorc/npy.h"

namespace {

std::string tmp(const std::string &name) {
  return std::string(BLORC_TEST_TMPDIR) + "/" + name;
}

void write_bytes(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

// A v1.0 file as numpy writes it: magic, version, header length, dict padded to 64 bytes.
std::string npy_file(const std::string &dict, const std::string &body, int version = 1) {
  std::string h = dict;
  size_t pre = version == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY", 6);
  out += (char)version;
  out += (char)0;
  size_t len = h.size();
  out += (char)(len & 0xff);
  out += (char)((len >> 8) & 0xff);
  if (version != 1) out += std::string(2, '\0');
  return out + h + body;
}

template <typename T>
std::string raw(const std::vector<T> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}

blorc_status load(const std::string &path, blorc_array *a, blorc_error *e) {
  return blorc_npy_load(path.c_str(), a, e);
}

TEST(Npy, RoundTrip2D) {
  std::vector<double> v = {1.5, -2.25, 3e-300, 4e300, 0.0, -0.0};
  blorc_error e{};
  std::string p = tmp("rt2.npy");
  ASSERT_EQ(blorc_npy_save(p.c_str(), v.data(), 2, 2, 3, &e), BLORC_OK) << e.msg;
  blorc_array a{};
  ASSERT_EQ(load(p, &a, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(a.ndim, 2);
  EXPECT_EQ(a.rows, 2u);
  EXPECT_EQ(a.cols, 3u);
  EXPECT_EQ(std::memcmp(a.data, v.data(), sizeof(double) * 6), 0);
  blorc_array_free(&a);
}

TEST(Npy, WritesTheHeaderNumpyWrites) {
  double v[3] = {1, 2, 3};
  blorc_error e{};
  std::string p = tmp("hdr.npy");
  ASSERT_EQ(blorc_npy_save(p.c_str(), v, 1, 3, 0, &e), BLORC_OK);
  std::ifstream f(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string want = npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                              raw(std::vector<double>{1, 2, 3}));
  EXPECT_EQ(bytes, want);
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // data starts at a 64-byte boundary
}

TEST(Npy, ReadsHandBuiltFloat64AndFloat32) {
  blorc_error e{};
  blorc_array a{};
  std::string p = tmp("f8.npy");
  write_bytes(p, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                          raw(std::vector<double>{1, 2, 3, 4})));
  ASSERT_EQ(load(p, &a, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(a.data[3], 4.0);
  EXPECT_FALSE(a.was_float32);
  blorc_array_free(&a);
  p = tmp("f4.npy");
  write_bytes(p, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                          raw(std::vector<float>{0.5f, -1.25f, 0.1f})));
  ASSERT_EQ(load(p, &a, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(a.ndim, 1);
  EXPECT_EQ(a.rows, 3u);
  EXPECT_EQ(a.cols, 1u);
  EXPECT_EQ(a.data[1], -1.25);
  EXPECT_EQ(a.data[2], (double)0.1f);
  EXPECT_TRUE(a.was_float32);
  blorc_array_free(&a);
  p = tmp("v2.npy");  // format 2.0: 4-byte header length
  write_bytes(p, npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }",
                          raw(std::vector<double>{7}), 2));
  ASSERT_EQ(load(p, &a, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(a.data[0], 7.0);
  blorc_array_free(&a);
}

struct Bad {
  const char *name;
  std::string bytes;
  const char *message;
};

TEST(Npy, MalformedFilesGiveErrorsNotCrashes) {
  std::string d8 = raw(std::vector<double>{1, 2, 3, 4});
  std::vector<Bad> cases = {
      {"magic.npy", "NOTNUMPY-at-all", "bad magic"},
      {"empty.npy", "", "bad magic"},
      {"bigendian.npy", npy_file("{'descr': '>f8', 'fortran_order': False, 'shape': (4,), }", d8),
       "dtype '>f8'"},
      {"int.npy", npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", d8),
       "dtype '<i8'"},
      {"fortran.npy", npy_file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", d8),
       "Fortran"},
      {"threed.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }", d8),
       "more than 2 dimensions"},
      {"scalar.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", d8),
       "0-d"},
      {"short.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }", d8),
       "truncated"},
      {"noshape.npy", npy_file("{'descr': '<f8', 'fortran_order': False, }", d8), "no 'shape'"},
      {"version.npy", std::string("\x93NUMPY\x09\x00", 8), "version 9"},
      // Found by fuzzing: a 171-byte file claiming 25 x 111111111 values made the reader
      // allocate 22 GB before it found the data missing; the claim is checked first now.
      {"huge-claim.npy",
       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1024), }", d8),
       "header says 1073741824 x 1024 values, it holds 32 bytes"},
      // Also found by fuzzing: numbers must be separated by commas.
      {"no-comma.npy", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (2 2), }", d8),
       "malformed shape"},
      {"cut-header.npy",
       npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", "").substr(0, 30),
       "truncated"},
  };
  for (const Bad &c : cases) {
    std::string p = tmp(c.name);
    write_bytes(p, c.bytes);
    blorc_array a{};
    blorc_error e{};
    EXPECT_NE(load(p, &a, &e), BLORC_OK) << c.name;
    EXPECT_EQ(a.data, nullptr) << c.name;
    EXPECT_NE(std::string(e.msg).find(c.message), std::string::npos) << c.name << ": " << e.msg;
    EXPECT_NE(std::string(e.msg).find(c.name), std::string::npos) << "message names the file";
  }
  blorc_array a{};
  blorc_error e{};
  EXPECT_EQ(load(tmp("does-not-exist.npy"), &a, &e), BLORC_EIO);
  EXPECT_NE(std::string(e.msg).find("does-not-exist.npy"), std::string::npos);
}

TEST(Npy, SavedFilesGetTheUsualPermissions) {
  // Outputs are for users and other tools: mode 0666 less the umask, as any new file (a
  // private temporary-file mode would leave them unreadable to others).
  mode_t old = umask(022);
  std::string p = tmp("perm.npy");
  double v[1] = {1};
  blorc_error e{};
  ASSERT_EQ(blorc_npy_save(p.c_str(), v, 1, 1, 0, &e), BLORC_OK);
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(Npy, FailedSaveKeepsTheOldFile) {
  std::string p = tmp("keep.npy");
  double v[2] = {1, 2};
  blorc_error e{};
  ASSERT_EQ(blorc_npy_save(p.c_str(), v, 1, 2, 0, &e), BLORC_OK);
  // A directory that does not exist: the write fails and reports the path.
  std::string bad = tmp("no-such-dir/x.npy");
  EXPECT_EQ(blorc_npy_save(bad.c_str(), v, 1, 2, 0, &e), BLORC_EIO);
  EXPECT_NE(std::string(e.msg).find("no-such-dir"), std::string::npos);
  blorc_array a{};
  ASSERT_EQ(load(p, &a, &e), BLORC_OK);
  EXPECT_EQ(a.data[1], 2.0);
  blorc_array_free(&a);
}

// A window of rows (a data-parallel rank's shard) is exactly those rows of the whole file;
// the file's row count comes back; a window past the end is refused.
TEST(Npy, RowWindowsAreSlicesOfTheFile) {
  std::string p = tmp("rows.npy");
  std::vector<double> v(7 * 3);
  for (size_t i = 0; i < v.size(); i++) v[i] = 0.5 * (double)i - 3;
  blorc_error e{};
  ASSERT_EQ(blorc_npy_save(p.c_str(), v.data(), 2, 7, 3, &e), BLORC_OK);
  blorc_array a{};
  size_t total = 0;
  ASSERT_EQ(blorc_npy_load_rows(p.c_str(), 2, 4, &a, &total, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(total, 7u);
  ASSERT_EQ(a.rows, 4u);
  ASSERT_EQ(a.cols, 3u);
  for (size_t i = 0; i < 12; i++) EXPECT_EQ(a.data[i], v[6 + i]);
  blorc_array_free(&a);
  ASSERT_EQ(blorc_npy_load_rows(p.c_str(), 7, 0, &a, nullptr, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(a.rows, 0u);
  blorc_array_free(&a);
  EXPECT_EQ(blorc_npy_load_rows(p.c_str(), 5, 3, &a, nullptr, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("rows 5..8 asked for, the file has 7"), std::string::npos)
      << e.msg;
}

}  // namespace
