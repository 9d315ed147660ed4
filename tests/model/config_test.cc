// ModelConfig::Validate bounds what a checkpoint may declare before anything
// is built for it.
#include "model/config.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace seedtune
