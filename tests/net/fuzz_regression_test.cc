// Regressions found by fuzz/wire_fuzz.cc (docs/fuzzing.md): each test holds
// the minimised input as the fuzzer wrote it (byte 0: decoder, byte 1: run;
// see fuzz/wire_fuzz.h) and checks the decoder now refuses it with a clear
// Status.
#include <gtest/gtest.h>

#include <string>

#include "fed/strategy.h"
#include "net/wire.h"

namespace seedtune {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

// The message part of a wire_fuzz input.
std::string Message(const std::string& input) { return input.substr(2); }

// UnpackUpdates accepted any finite decay; a client applies what it receives,
// and the ledger refuses a decay outside (0, 2] (here: about -0.0035).
TEST(WireFuzzRegression, UnpackedUpdatesKeepTheLedgersDecayBound) {
  const std::string input = Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x10, 0x10, 0xff, 0x79,
                                   0x46, 0x65, 0x74, 0x63, 0xbb});
  auto u = UnpackUpdates(Message(input));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(u.status().message().find("update 0 has decay -0.0034"), std::string::npos) << u.status().ToString();
  EXPECT_NE(u.status().message().find("outside (0, 2]"), std::string::npos) << u.status().ToString();
  // The bounds themselves: 2 is fine, 0 and just above 2 are not.
  for (float decay : {2.0f, 1.0f, 1e-30f}) EXPECT_TRUE(UnpackUpdates(PackUpdates({{1, 0.5f, decay}})).ok()) << decay;
  for (float decay : {0.0f, -0.0f, 2.0000002f, -1.0f})
    EXPECT_FALSE(UnpackUpdates(PackUpdates({{1, 0.5f, decay}})).ok()) << decay;
}

// A record with a fingerprint but has_fingerprint = false was accepted as is;
// ToWire then drops the fingerprint, so the record changed on the next hop.
TEST(WireFuzzRegression, AFingerprintWithoutHasFingerprintIsRefused) {
  const std::string input = Bytes({0xd5, 0x16, 0x08, 0x10, 0x21, 0x21, 0x21, 0x21, 0x21, 0x00, 0x18, 0x18, 0x3b});
  wire::RoundRecord w;
  ASSERT_TRUE(w.ParseFromString(Message(input)));
  ASSERT_FALSE(w.has_fingerprint());
  ASSERT_NE(w.fingerprint(), 0u);
  auto r = FromWire(w, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "record of round 16 carries a fingerprint but has_fingerprint is false");
  w.set_has_fingerprint(true);
  EXPECT_TRUE(FromWire(w, {}).ok());
}

}  // namespace
}  // namespace seedtune
