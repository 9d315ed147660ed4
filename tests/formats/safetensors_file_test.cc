#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/half.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

using ::seedtune::testing::MakeTempDir;

// Raw file: 8-byte little-endian header length, header, data.
std::string RawFile(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string WriteRaw(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

std::string Floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = (static_cast<float>(s >> 8) / 16777216.0f - 0.5f) * 3.0f;
  }
  return v;
}

TEST(SafetensorsTest, WriteThenReadAllDtypesAndMetadata) {
  const std::string dir = MakeTempDir("st-roundtrip");
  const auto a = RandomFloats(6 * 5, 1), b = RandomFloats(7, 2), c = RandomFloats(3 * 2 * 4, 3);
  std::vector<SafetensorsWriteTensor> ts = {
      {"a.weight", {6, 5}, TensorDtype::kF32, a.data()},
      {"b.bias", {7}, TensorDtype::kF16, b.data()},
      {"c", {3, 2, 4}, TensorDtype::kBF16, c.data()},
      {"empty", {0, 4}, TensorDtype::kF32, nullptr},
  };
  const std::string path = dir + "/x.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, ts, {{"format", "pt"}, {"note", "héllo \"quoted\""}}).ok());

  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->header_size() % 8, 0u);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "héllo \"quoted\"");
  // Data section starts right after the padded header and tensors are contiguous.
  uint64_t expect_begin = 0;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.begin, expect_begin) << t.name;
    expect_begin = t.end;
  }
  EXPECT_EQ(8 + f->header_size() + expect_begin, std::filesystem::file_size(path));

  const SafetensorsTensor* ta = f->Find("a.weight");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, "F32");
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{6, 5}));
  std::vector<float> out(30);
  ASSERT_TRUE(f->ReadFloat(*ta, out.data()).ok());
  EXPECT_EQ(std::memcmp(out.data(), a.data(), 120), 0);

  const SafetensorsTensor* tb = f->Find("b.bias");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, "F16");
  out.assign(7, 0.0f);
  ASSERT_TRUE(f->ReadFloat(*tb, out.data()).ok());
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(out[i], Fp16ToFloat(FloatToFp16(b[i]))) << i;
    EXPECT_NEAR(out[i], b[i], 1e-3f);
  }

  const SafetensorsTensor* tc = f->Find("c");
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(tc->dtype, "BF16");
  out.assign(24, 0.0f);
  ASSERT_TRUE(f->ReadFloat(*tc, out.data()).ok());
  for (size_t i = 0; i < 24; ++i) EXPECT_EQ(out[i], Bf16ToFloat(FloatToBf16(c[i]))) << i;

  const SafetensorsTensor* te = f->Find("empty");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ(te->numel(), 0);
  EXPECT_EQ(f->Find("missing"), nullptr);
}

TEST(SafetensorsTest, ReadsHandMadeFileWithUnpaddedHeader) {
  const std::string dir = MakeTempDir("st-hand");
  const std::vector<float> v = {1.5f, -2.0f, 3.25f};
  // Tensors listed out of offset order, header not a multiple of 8.
  const std::string header =
      R"({"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  const std::string path = WriteRaw(dir, "h.safetensors", RawFile(header, Floats(v)));
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->tensors()[0].name, "x");  // offset order
  float x = 0, y[2] = {0, 0};
  ASSERT_TRUE(f->ReadFloat(*f->Find("x"), &x).ok());
  ASSERT_TRUE(f->ReadFloat(*f->Find("y"), y).ok());
  EXPECT_EQ(x, 1.5f);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[1], 3.25f);
  EXPECT_TRUE(f->metadata().empty());
}

struct BadCase {
  const char* label;
  std::string header;
  size_t data_bytes;
  StatusCode code;
  std::vector<std::string> must_mention;
};

TEST(SafetensorsTest, RejectsMalformedHeaders) {
  const std::string dir = MakeTempDir("st-bad");
  const std::vector<BadCase> cases = {
      {"invalid json", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8, StatusCode::kInvalidArgument,
       {"JSON"}},
      {"not an object", R"([1,2,3])", 0, StatusCode::kInvalidArgument, {"not an object"}},
      {"unknown dtype", R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", 8, StatusCode::kInvalidArgument,
       {"w", "F12"}},
      {"end before begin", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8,
       StatusCode::kInvalidArgument, {"w", "end before begin"}},
      {"past end", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, StatusCode::kDataLoss,
       {"w", "past the end"}},
      {"size mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, StatusCode::kInvalidArgument,
       {"w", "needs 12"}},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, StatusCode::kInvalidArgument, {"a", "b", "overlap"}},
      {"negative dim", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, StatusCode::kInvalidArgument,
       {"w", "non-negative"}},
      {"missing offsets", R"({"w":{"dtype":"F32","shape":[2]}})", 8, StatusCode::kInvalidArgument,
       {"w", "data_offsets"}},
      {"negative offset", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8,
       StatusCode::kInvalidArgument, {"w", "data_offsets"}},
      {"huge shape", R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8,
       StatusCode::kInvalidArgument, {"w", "too large"}},
      {"metadata not strings", R"({"__metadata__":{"k":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8,
       StatusCode::kInvalidArgument, {"__metadata__", "k"}},
      {"entry not object", R"({"w":[1,2]})", 0, StatusCode::kInvalidArgument, {"w"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = WriteRaw(dir, "bad.safetensors", RawFile(c.header, std::string(c.data_bytes, '\0')));
    auto f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), c.code) << f.status().ToString();
    EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().ToString();
    for (const auto& m : c.must_mention)
      EXPECT_NE(f.status().message().find(m), std::string::npos) << "'" << m << "' not in " << f.status().ToString();
  }
}

TEST(SafetensorsTest, RejectsHeaderLengthPastEndOfFile) {
  const std::string dir = MakeTempDir("st-hlen");
  std::string bytes = RawFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  bytes[0] = static_cast<char>(0xff);  // header length now far larger than the file
  bytes[5] = 0x7f;
  const std::string path = WriteRaw(dir, "hlen.safetensors", bytes);
  auto f = SafetensorsFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(f.status().message().find("header length"), std::string::npos) << f.status().ToString();
  EXPECT_NE(f.status().message().find(path), std::string::npos);

  const std::string tiny = WriteRaw(dir, "tiny.safetensors", "abc");
  EXPECT_EQ(SafetensorsFile::Open(tiny).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(SafetensorsFile::Open(dir + "/none.safetensors").status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsTest, UnsupportedDtypesAreUnimplementedOnRead) {
  const std::string dir = MakeTempDir("st-dtype");
  const std::string header =
      R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"i":{"dtype":"I32","shape":[2],"data_offsets":[16,24]},)"
      R"("q":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[24,32]}})";
  const std::string path = WriteRaw(dir, "dt.safetensors", RawFile(header, std::string(32, '\0')));
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();  // valid file...
  float out[8];
  for (const char* name : {"d", "i", "q"}) {
    Status s = f->ReadFloat(*f->Find(name), out);  // ...with dtypes seedtune does not convert
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.ToString();
    EXPECT_NE(s.message().find(std::string("tensor ") + name), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(f->Find(name)->dtype), std::string::npos) << s.ToString();
  }
}

TEST(SafetensorsTest, TruncationAtEveryOffsetIsAnErrorNeverACrash) {
  const std::string dir = MakeTempDir("st-trunc");
  const auto a = RandomFloats(12, 4), b = RandomFloats(5, 5);
  std::vector<SafetensorsWriteTensor> ts = {{"a", {3, 4}, TensorDtype::kF32, a.data()},
                                            {"b", {5}, TensorDtype::kBF16, b.data()}};
  const std::string full = dir + "/full.safetensors";
  ASSERT_TRUE(WriteSafetensors(full, ts, {{"format", "pt"}}).ok());
  auto bytes = ReadFileToString(full);
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(SafetensorsFile::Open(full).ok());
  const std::string path = dir + "/cut.safetensors";
  ASSERT_TRUE(WriteStringToFile(path, *bytes).ok());
  for (size_t n = bytes->size(); n-- > 0;) {
    std::filesystem::resize_file(path, n);  // every prefix, shrinking in place
    auto f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok()) << "truncated to " << n << " bytes but opened";
    EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().ToString();
  }
}

TEST(SafetensorsTest, WriterRejectsDuplicateNames) {
  const std::string dir = MakeTempDir("st-dup");
  const float v[2] = {1, 2};
  std::vector<SafetensorsWriteTensor> ts = {{"a", {2}, TensorDtype::kF32, v}, {"a", {2}, TensorDtype::kF32, v}};
  Status s = WriteSafetensors(dir + "/d.safetensors", ts);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir + "/d.safetensors"));
}

}  // namespace
}  // namespace seedtune
