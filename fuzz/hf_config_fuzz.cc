// libFuzzer target for the Hugging Face config.json parser
// (formats/hf_config.cc). Every input is parsed as config.json text:
//  1. ParseHfConfig either rejects it with a Status or returns a config that
//     passes ModelConfig::Validate and has a tensor table (BuildTensorTable)
//     whose parameter count does not overflow;
//  2. an accepted config re-encodes with HfConfigToJson (every config the
//     parser returns has a Hugging Face form), and that text parses back to
//     the same config (every field but the name, which config.json does not
//     carry) and re-encodes to the same text.
// Built and run by scripts/fuzz.sh (target "hf_config").
#include <string>

#include "formats/hf_config.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/model_checks.h"
#include "model/arch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = seedtune::ParseHfConfig(text, "config.json");
  if (!c.ok()) return 0;
  FUZZ_CHECK_MSG(c->Validate().ok(), c->Validate().ToString());
  auto table = seedtune::BuildTensorTable(*c);
  FUZZ_CHECK_MSG(table.ok(), table.status().ToString());
  FUZZ_CHECK(table->num_params() > 0);

  auto json = seedtune::HfConfigToJson(*c);
  FUZZ_CHECK_MSG(json.ok(), json.status().ToString());
  auto again = seedtune::ParseHfConfig(*json, "again.json");
  FUZZ_CHECK_MSG(again.ok(), again.status().ToString() + "\n" + *json);
  FUZZ_CHECK_MSG(seedtune::fuzz::SameConfig(*c, *again), *json);
  auto json2 = seedtune::HfConfigToJson(*again);
  FUZZ_CHECK(json2.ok() && *json2 == *json);
  return 0;
}
