// GGUF container (formats/gguf.h) and writer (formats/gguf_writer.h): every
// metadata value type round-trips, typed getters report key and file, tensor
// directory offsets and data pointers are right.
#include "formats/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "formats/gguf_writer.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

// A temporary directory removed at the end of the test.
struct ScopedDir {
  explicit ScopedDir(const std::string& tag) : path(testing::MakeTempDir(tag)) {}
  ~ScopedDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

GgufValue Val(GgufValueType t, int64_t i) {
  GgufValue v;
  v.type = t;
  v.i = i;
  return v;
}

TEST(GgufFileTest, MetadataRoundTripsEveryType) {
  ScopedDir scoped("gguf-file");
  const std::string& dir = scoped.path;
  const std::string path = dir + "/meta.gguf";
  GgufValue f64;
  f64.type = GgufValueType::kFloat64;
  f64.f = 0.1;
  GgufValue nested;  // array of arrays of int32
  nested.type = GgufValueType::kArray;
  nested.array_type = GgufValueType::kArray;
  nested.array.push_back(GgufI32Array({1, 2, 3}));
  nested.array.push_back(GgufI32Array({-4}));
  std::vector<GgufMetadataEntry> meta = {
      {"general.architecture", GgufStr("llama")},
      {"u8", Val(GgufValueType::kUint8, 200)},
      {"i8", Val(GgufValueType::kInt8, -100)},
      {"u16", Val(GgufValueType::kUint16, 60000)},
      {"i16", Val(GgufValueType::kInt16, -30000)},
      {"u32", GgufU32(4000000000u)},
      {"i32", GgufI32(-2000000000)},
      {"u64", GgufU64(uint64_t{1} << 40)},
      {"i64", Val(GgufValueType::kInt64, -(int64_t{1} << 50))},
      {"f32", GgufF32(1.5f)},
      {"f64", f64},
      {"yes", GgufBool(true)},
      {"no", GgufBool(false)},
      {"empty", GgufStr("")},
      {"strings", GgufStrArray({"a", "", "héllo"})},
      {"floats", GgufF32Array({0.5f, -1.0f})},
      {"ints", GgufI32Array({7, -8})},
      {"nested", nested},
  };
  const float data[3] = {1, 2, 3};
  std::vector<GgufWriterTensor> tensors = {{"a", {3}, 0, GgufF32Bytes(data, 3)},
                                           {"b", {2, 3}, 0, GgufF32Bytes(data, 3) + GgufF32Bytes(data, 3)}};
  ASSERT_TRUE(WriteGguf(path, meta, tensors).ok());
  auto g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  EXPECT_EQ(g->keys().size(), meta.size());
  for (size_t i = 0; i < meta.size(); ++i) EXPECT_EQ(g->keys()[i], meta[i].key);
  EXPECT_EQ(*g->GetString("general.architecture"), "llama");
  EXPECT_EQ(*g->GetInt("u8"), 200);
  EXPECT_EQ(*g->GetInt("i8"), -100);
  EXPECT_EQ(*g->GetInt("u16"), 60000);
  EXPECT_EQ(*g->GetInt("i16"), -30000);
  EXPECT_EQ(*g->GetInt("u32"), 4000000000);
  EXPECT_EQ(*g->GetInt("i32"), -2000000000);
  EXPECT_EQ(*g->GetInt("u64"), int64_t{1} << 40);
  EXPECT_EQ(*g->GetInt("i64"), -(int64_t{1} << 50));
  EXPECT_EQ(*g->GetFloat("f32"), 1.5);
  EXPECT_EQ(*g->GetFloat("f64"), 0.1);
  EXPECT_EQ(*g->GetFloat("u32"), 4e9);  // integers read as floats too
  EXPECT_TRUE(*g->GetBool("yes"));
  EXPECT_FALSE(*g->GetBool("no"));
  EXPECT_EQ(*g->GetString("empty"), "");
  EXPECT_EQ(*g->GetStringArray("strings"), (std::vector<std::string>{"a", "", "héllo"}));
  EXPECT_EQ(*g->GetFloatArray("floats"), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(*g->GetIntArray("ints"), (std::vector<int64_t>{7, -8}));
  const GgufValue* n = g->Find("nested");
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(n->array.size(), 2u);
  EXPECT_EQ(n->array[0].array.size(), 3u);
  EXPECT_EQ(n->array[1].array[0].i, -4);
  EXPECT_FALSE(g->Has("missing"));

  // Typed getters: wrong type and missing keys name the key and the file.
  for (auto st : {g->GetString("u32").status(), g->GetInt("strings").status(), g->GetBool("u8").status(),
                  g->GetStringArray("ints").status(), g->GetIntArray("floats").status(),
                  g->GetFloat("yes").status()}) {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.ToString();
  }
  auto missing = g->GetInt("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);

  // Tensor directory: reversed dims, aligned offsets, data pointers.
  ASSERT_EQ(g->tensors().size(), 2u);
  const GgufTensorInfo* b = g->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(b->numel(), 6);
  EXPECT_EQ(b->nbytes, 24u);
  EXPECT_EQ(b->offset % 32, 0u);
  EXPECT_EQ(g->data_offset() % 32, 0u);
  EXPECT_EQ(std::memcmp(b->data, data, 12), 0);
  EXPECT_EQ(std::memcmp(g->FindTensor("a")->data, data, 12), 0);
  EXPECT_EQ(g->FindTensor("c"), nullptr);
}

TEST(GgufFileTest, WriterRejectsBadInput) {
  ScopedDir scoped("gguf-writer");
  const std::string& dir = scoped.path;
  const float x[4] = {};
  EXPECT_FALSE(WriteGguf(dir + "/a.gguf", {}, {{"t", {2, 2}, 0, GgufF32Bytes(x, 3)}}).ok());  // wrong size
  EXPECT_FALSE(WriteGguf(dir + "/a.gguf", {}, {{"t", {48}, 8, std::string(51, '\0')}}).ok());  // Q8_0 row of 48
  EXPECT_FALSE(WriteGguf(dir + "/a.gguf", {{"k", GgufU32(1)}, {"k", GgufU32(2)}}, {}).ok());   // duplicate key
  EXPECT_TRUE(WriteGguf(dir + "/a.gguf", {}, {}).ok());
  auto g = GgufFile::Open(dir + "/a.gguf");  // no metadata, no tensors
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(g->tensors().empty());
}

TEST(GgufFileTest, HeaderErrors) {
  ScopedDir scoped("gguf-header");
  const std::string& dir = scoped.path;
  auto open_bytes = [&](const std::string& bytes) {
    const std::string path = dir + "/h.gguf";
    EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
    return GgufFile::Open(path).status();
  };
  auto le32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto le64 = [](uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  Status s = open_bytes("");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = open_bytes("GGML" + le32(3) + le64(0) + le64(0));
  EXPECT_NE(s.message().find("not a GGUF file"), std::string::npos) << s.ToString();
  s = open_bytes("GGUF" + le32(1) + le64(0) + le64(0));
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.ToString();
  s = open_bytes("GGUF" + le32(4) + le64(0) + le64(0));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = open_bytes("GGUF" + le32(0x03000000) + le64(0) + le64(0));  // big-endian v3
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.ToString();
  EXPECT_NE(s.message().find("big-endian"), std::string::npos);
  s = open_bytes("GGUF" + le32(2) + le64(0) + le64(0));  // v2, empty: fine
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Absurd counts are rejected before any allocation.
  s = open_bytes("GGUF" + le32(3) + le64(~uint64_t{0}) + le64(0));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  s = open_bytes("GGUF" + le32(3) + le64(0) + le64(uint64_t{1} << 61));
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
  // Bad alignment value.
  const std::string key = "general.alignment";
  s = open_bytes("GGUF" + le32(3) + le64(0) + le64(1) + le64(key.size()) + key + le32(4) + le32(48));
  EXPECT_NE(s.message().find("general.alignment"), std::string::npos) << s.ToString();
  // bool that is neither 0 nor 1; array nested too deep; duplicate key.
  s = open_bytes("GGUF" + le32(3) + le64(0) + le64(1) + le64(1) + "b" + le32(7) + std::string(1, '\x05'));
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.ToString();
  std::string deep = le32(9);
  for (int i = 0; i < 5; ++i) deep += le32(9) + le64(1);
  deep += le32(4) + le64(1) + le32(7);
  s = open_bytes("GGUF" + le32(3) + le64(0) + le64(1) + le64(1) + "d" + deep);
  EXPECT_NE(s.message().find("nested"), std::string::npos) << s.ToString();
  s = open_bytes("GGUF" + le32(3) + le64(0) + le64(2) + le64(1) + "k" + le32(4) + le32(1) + le64(1) + "k" + le32(4) +
                 le32(1));
  EXPECT_NE(s.message().find("duplicate"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace seedtune
