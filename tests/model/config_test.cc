// ModelConfig::Validate bounds what a checkpoint may declare before anything
// is built for it.
#include "model/config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "formats/hf_config.h"
#include "model/arch.h"
#include "model/presets.h"

namespace seedtune {
namespace {

// Fuzz finding (gguf target): a 6.5 KB GGUF declaring block_count 0x04000001
// made LoadModel build a tensor table of 67 million layers (1.2 GB) before
// checking any size against the file.
TEST(ModelConfigTest, ALayerCountNoModelHasIsRefusedBeforeATableIsBuilt) {
  auto c = PresetConfig("smollm2-135m");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ModelConfig bomb = *c;
  bomb.num_layers = 0x04000001;
  Status s = bomb.Validate();
  EXPECT_EQ(s.message(), "model config: num_layers 67108865 exceeds 4096");
  EXPECT_FALSE(BuildTensorTable(bomb).ok());
  bomb.num_layers = kMaxLayers;
  EXPECT_TRUE(bomb.Validate().ok());
}

// Fuzz finding (hf_config target, the minimised config.json): an
// intermediate_size of 9.7e17 passed Validate and the element count of its
// MLP tensors overflowed int64_t (UBSan in TensorSpec::numel).
TEST(ModelConfigTest, SizesWhoseTensorsWouldOverflowAreRefusedNamingTheField) {
  const std::string json =
      R"({"model_type":"llama","hidden_size":64,"intermediate_size":969007199254740993,"num_hidden_layers":3,)"
      R"("num_attention_heads":4,"vocab_size":101,"rope_scaen_id":[4,3],"pad_token_id":null,)"
      R"("max_position_embediings":2048.0})";
  auto c = ParseHfConfig(json, "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("intermediate_size 969007199254740993 exceeds 16777216"), std::string::npos)
      << c.status().ToString();

  // Each size within the bound, the whole beyond 2^40 parameters.
  auto smol = PresetConfig("smollm2-135m");
  ASSERT_TRUE(smol.ok());
  ModelConfig wide = *smol;
  wide.num_heads = wide.num_kv_heads = 1024;
  wide.hidden_size = wide.head_dim * 1024;  // 65536
  wide.intermediate_size = kMaxDimension;
  wide.num_layers = kMaxLayers;
  Status s = wide.Validate();
  EXPECT_NE(s.message().find("parameters"), std::string::npos) << s.ToString();
  EXPECT_FALSE(BuildTensorTable(wide).ok());
}

// Fuzz finding (hf_config target): rope_theta 1e42 is beyond float range; it
// was read as inf, passed "> 0", and written back as null.
TEST(ModelConfigTest, ARopeThetaBeyondFloatRangeIsRefused) {
  const std::string json =
      R"({"model_type":"llama","vocab_size":24,"hidden_size":16,"intermediate_size":24,"num_hidden_layers":1,)"
      R"("num_attention_heads":2,"num_key_value_heads":1,"head_dim":8,)"
      R"("rope_theta":1000111111111111844674407370955161611111110.2})";
  auto c = ParseHfConfig(json, "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("rope_theta inf must be positive and finite"), std::string::npos)
      << c.status().ToString();
  auto smol = PresetConfig("smollm2-135m");
  ASSERT_TRUE(smol.ok());
  ModelConfig nan_theta = *smol;
  nan_theta.rope_theta = std::nanf("");
  EXPECT_FALSE(nan_theta.Validate().ok());
}

// The bound is an upper bound: every preset's table has at most as many
// parameters as Validate allows, and passes.
TEST(ModelConfigTest, EveryPresetPassesAndStaysUnderTheParameterBound) {
  for (const std::string& name : PresetNames()) {
    auto c = PresetConfig(name);
    ASSERT_TRUE(c.ok()) << name;
    auto table = BuildTensorTable(*c);
    ASSERT_TRUE(table.ok()) << name << ": " << table.status().ToString();
    EXPECT_LE(table->num_params(), kMaxParameters) << name;
  }
}

}  // namespace
}  // namespace seedtune
