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


// "trimmed:5.2" was accepted (std::stod took any number, and any prefix of the
// text); ScalarWeights then floors 5.2 * k into a count of replies to drop,
// and a NaN or negative fraction is undefined there. Now F must be a whole
// decimal number in [0, 0.5) (fed/aggregate.h ParseScalarRule).
TEST(WireFuzzRegression, TrimmedMeanFractionIsAWholeNumberInRange) {
  const std::string input =
      Bytes({0x00, 0x01, 0x0a, 0x09, 0x7a, 0x6f, 0x2d, 0x66, 0x65, 0x64, 0x73, 0x67, 0x64, 0x1d, 0x6f, 0x12, 0x83,
             0x3a, 0x20, 0x02, 0x32, 0x05, 0x67, 0x61, 0x75, 0x73, 0x73, 0x52, 0x0b, 0x74, 0x72, 0x69, 0x6d, 0x6d,
             0x65, 0x64, 0x3a, 0x35, 0x2e, 0x32, 0x58, 0x06, 0x60, 0x66, 0xa1, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
             0x00, 0xf0, 0x3f});
  wire::RunConfig c;
  ASSERT_TRUE(c.ParseFromString(Message(input)));
  ASSERT_EQ(c.aggregate(), "trimmed:5.2");
  c.set_max_abs_scalar(1e4);  // (a field newer than the fuzz input)
  auto s = FromWire(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "run config: aggregation rule 'trimmed:5.2' is not trimmed:F with F a number in [0, 0.5)");
  for (const char* bad : {"trimmed:nan", "trimmed:-0.1", "trimmed: 0.1", "trimmed:0.1x", "trimmed:", "trimmed",
                          "trimmed:1e400", "trimmedX:0.1", "trimmed:0.5", "trimmed:.5"}) {
    c.set_aggregate(bad);
    EXPECT_FALSE(FromWire(c).ok()) << bad;
  }
  for (const auto& [good, f] : std::vector<std::pair<const char*, double>>{
           {"trimmed:0", 0.0}, {"trimmed:0.25", 0.25}, {"trimmed:.25", 0.25}, {"trimmed:1e-1", 0.1}}) {
    c.set_aggregate(good);
    auto ok = FromWire(c);
    ASSERT_TRUE(ok.ok()) << good << ": " << ok.status().ToString();
    EXPECT_EQ(ok->fed.trim_fraction, f) << good;
  }
}

}  // namespace
}  // namespace seedtune
