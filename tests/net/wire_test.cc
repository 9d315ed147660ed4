// The wire conversions on their own: every field a peer sends is checked
// before the coordinator or a client looks at it, and what round-trips is
// bit-exact.
#include "net/wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "fed/messages.h"
#include "net/auth.h"

namespace seedtune {
namespace {

RunSpec KSeedRun() {
  RunSpec s;
  s.fed.algo = FedAlgorithm::kFedKSeedPro;
  s.fed.params = {{"K", 64}, {"local-steps", 5}, {"client-fraction", 0.5}};
  s.fed.lr = 1e-4f;
  s.fed.seed = 7;
  s.rounds = 4;
  s.data.clients = 4;
  s.data.seed = 7;
  s.data.task = "sst2";
  s.data.partition = "iid";
  return s;
}

TEST(NetWireTest, RunConfigRoundTripsAndIsValidated) {
  RunSpec s = KSeedRun();
  s.base_fingerprint = "0123456789abcdef";
  s.data.user.prompt_template = "{text}\\nThe mood was";  // a user task's, compared through the header
  s.data.user.label_words = "0=sad,1=happy";
  wire::RunConfig c;
  ToWire(s, &c);
  auto back = FromWire(c);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(RunLedgerHeader(*back).hyperparameters, RunLedgerHeader(s).hyperparameters);
  EXPECT_EQ(back->base_fingerprint, s.base_fingerprint);
  EXPECT_EQ(back->data.seed, 7u);
  // The scalar rule travels for ZO-FedSGD, and is refused for FedKSeed-Pro,
  // which would ignore it.
  RunSpec z = s;
  z.fed.algo = FedAlgorithm::kZoFedSgd;
  z.fed.params.clear();  // FedKSeed's options are not ZO-FedSGD's
  z.aggregate = "trimmed:0.25";
  z.fed.rule = ScalarRule::kTrimmedMean;
  z.fed.trim_fraction = 0.25;
  wire::RunConfig zc;
  ToWire(z, &zc);
  auto zback = FromWire(zc);
  ASSERT_TRUE(zback.ok()) << zback.status().ToString();
  EXPECT_EQ(zback->fed.trim_fraction, 0.25);
  EXPECT_EQ(RunLedgerHeader(*zback).hyperparameters, RunLedgerHeader(z).hyperparameters);
  zc.set_algorithm("fedkseed-pro");
  auto ignored = FromWire(zc);
  ASSERT_FALSE(ignored.ok());
  EXPECT_NE(ignored.status().message().find("applies to zo-fedsgd only"), std::string::npos)
      << ignored.status().ToString();
  c.set_algorithm("mezo");
  EXPECT_FALSE(FromWire(c).ok()) << "mezo is not a networked algorithm";
  ToWire(s, &c);
  (*c.mutable_params())["K"] = 70000;
  EXPECT_FALSE(FromWire(c).ok()) << "K above the u16 index range";
  ToWire(s, &c);
  c.set_base_fingerprint("xyz");
  EXPECT_FALSE(FromWire(c).ok());
}

TEST(NetWireTest, UpdatesRoundTripBitExactAndRefuseNonFinite) {
  std::vector<ZUpdate> u = {{1, -1.5e-7f, 1.0f}, {~0ull, std::numeric_limits<float>::denorm_min(), 0.999f}};
  const std::string packed = PackUpdates(u);
  EXPECT_EQ(packed.size(), 32u);
  auto back = UnpackUpdates(packed);
  ASSERT_TRUE(back.ok());
  for (size_t i = 0; i < u.size(); ++i) {
    EXPECT_EQ((*back)[i].seed, u[i].seed);
    EXPECT_EQ(std::memcmp(&(*back)[i].alpha, &u[i].alpha, 4), 0);
    EXPECT_EQ((*back)[i].decay, u[i].decay);
  }
  EXPECT_FALSE(UnpackUpdates(packed.substr(0, 31)).ok());
  u[1].alpha = std::nanf("");
  EXPECT_FALSE(UnpackUpdates(PackUpdates(u)).ok());
}

TEST(NetWireTest, FedKSeedRecordsTravelAsCandidateIndicesBitExact) {
  const std::vector<uint64_t> cand = FedKSeedCandidates(7, 64);
  LedgerRecord r;
  r.round = 3;
  r.updates = {{cand[5], -1.25e-5f, 1.0f}, {cand[63], 3.0e-7f, 1.0f}};
  r.participants = {1, 3};
  wire::RoundRecord w;
  ToWire(r, cand, &w);
  EXPECT_TRUE(w.updates().empty());
  EXPECT_EQ(w.candidate_updates().size(), 12u) << "6 bytes per update";
  auto back = FromWire(w, cand);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->updates.size(), 2u);
  EXPECT_EQ(back->updates[1].seed, cand[63]);
  EXPECT_EQ(std::memcmp(&back->updates[0].alpha, &r.updates[0].alpha, 4), 0);
  EXPECT_EQ(back->participants, r.participants);
  EXPECT_FALSE(FromWire(w, {}).ok()) << "candidate indices outside FedKSeed";

  r.updates.push_back({12345, 1.0f, 1.0f});  // not a candidate: the full encoding
  ToWire(r, cand, &w);
  EXPECT_TRUE(w.candidate_updates().empty());
  EXPECT_EQ(w.updates().size(), 48u);
  back = FromWire(w, cand);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->updates[2].seed, 12345u);
  w.set_candidate_updates("x");
  EXPECT_FALSE(FromWire(w, cand).ok()) << "two update lists";
}

TEST(NetWireTest, ReplyFieldsAreCheckedForTheAlgorithm) {
  const RunSpec s = KSeedRun();
  ClientReply r;
  r.client = 2;
  r.round = 3;
  r.loss = 0.5;
  r.pairs = {{3, 0.25f}, {63, -1.0f}};
  wire::SubmitReplyRequest w;
  ToWire(r, &w);
  auto back = FromWire(w, s.fed);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pairs, r.pairs);

  auto refused = [&](wire::SubmitReplyRequest bad, const std::string& why) {
    auto got = FromWire(bad, s.fed);
    ASSERT_FALSE(got.ok()) << why;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << why;
  };
  wire::SubmitReplyRequest bad = w;
  bad.set_loss(std::nan(""));
  refused(bad, "NaN loss");
  bad = w;
  bad.set_seed_scalars(EncodeSeedScalars({{64, 1.0f}}));
  refused(bad, "seed index K");
  bad = w;
  bad.set_seed_scalars(EncodeSeedScalars({{1, std::numeric_limits<float>::infinity()}}));
  refused(bad, "infinite scalar");
  bad = w;
  bad.set_seed_scalars(w.seed_scalars() + "x");
  refused(bad, "not a multiple of 6 bytes");
  bad = w;
  bad.set_seed_scalars(std::string(6 * 6, '\0'));
  refused(bad, "more pairs than tau");
  bad = w;
  bad.set_sign(1);
  refused(bad, "a sign in a FedKSeed reply");

  FedOptions zo;
  zo.algo = FedAlgorithm::kZoFedSgd;
  wire::SubmitReplyRequest z;
  z.set_scalar(std::nanf(""));
  EXPECT_FALSE(FromWire(z, zo).ok()) << "NaN scalar";
  z.set_scalar(2.5f);
  ASSERT_TRUE(FromWire(z, zo).ok());
  EXPECT_EQ(FromWire(z, zo)->scalar, 2.5);
}

TEST(NetWireTest, PlansFromTheCoordinatorAreChecked) {
  const RunSpec s = KSeedRun();
  RoundPlan p;
  p.round = 2;
  p.participants = {1, 3};
  p.seed_probabilities.assign(64, 1.0f / 64);
  wire::RoundPlan w;
  ToWire(p, &w);
  auto back = FromWire(w, s);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->participants, p.participants);
  EXPECT_EQ(back->seed_probabilities, p.seed_probabilities);
  wire::RoundPlan bad = w;
  bad.set_round(5);
  EXPECT_FALSE(FromWire(bad, s).ok()) << "past the last round";
  bad = w;
  bad.add_participants(2);
  EXPECT_FALSE(FromWire(bad, s).ok()) << "not ascending";
  bad = w;
  bad.set_participants(0, 9);
  EXPECT_FALSE(FromWire(bad, s).ok()) << "unknown client";
  bad = w;
  bad.add_seed_probabilities(0.0f);
  EXPECT_FALSE(FromWire(bad, s).ok()) << "K + 1 probabilities";
}

TEST(NetWireTest, ProtocolVersionAndStatusMapping) {
  EXPECT_TRUE(CheckProtocolVersion(kFederationProtocolVersion).ok());
  Status v = CheckProtocolVersion(2);
  EXPECT_EQ(v.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(v.message().find("version 2"), std::string::npos) << v.message();
  EXPECT_EQ(ToGrpc(v).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToGrpc(InvalidArgument("x")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(IsTransient(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")));
  EXPECT_FALSE(IsTransient(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who")));
  Status back = FromGrpc(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not yours"), "Join");
  EXPECT_NE(back.message().find("PERMISSION_DENIED"), std::string::npos);
}

TEST(NetWireTest, TokensFileIsStrict) {
  auto t = ParseClientTokens("# id token\n0 alpha\n\n1   beta\n", 2, "tokens");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->at("alpha"), 0);
  EXPECT_EQ(t->at("beta"), 1);
  EXPECT_FALSE(ParseClientTokens("2 alpha\n", 2, "t").ok()) << "id out of range";
  EXPECT_FALSE(ParseClientTokens("0 alpha\n0 beta\n", 2, "t").ok()) << "two tokens for one client";
  EXPECT_FALSE(ParseClientTokens("0 alpha\n1 alpha\n", 2, "t").ok()) << "one token for two clients";
  EXPECT_FALSE(ParseClientTokens("0 alpha extra\n", 2, "t").ok());
  EXPECT_FALSE(ParseClientTokens("x alpha\n", 2, "t").ok());
  EXPECT_FALSE(ParseClientTokens("\n", 2, "t").ok()) << "no tokens at all";
}

}  // namespace
}  // namespace seedtune
