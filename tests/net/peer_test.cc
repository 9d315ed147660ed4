// `seedtune peer` (Just One Byte over gRPC): the wire checks and the
// membership rule directly, a peer's service refusing malformed calls, and
// three peer processes on loopback, one joining late through a peer other
// than the founder (catching up by replay) and one leaving, every survivor
// holding the model that the in-process engine (RunOneByte) computes for the
// same join/leave schedule, at every iteration.
#include "net/peer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <sstream>

#include "core/assets.h"
#include "fed/federated_data.h"
#include "fed/onebyte.h"
#include "support/child_process.h"
#include "net/peer_wire.h"
#include "runtime/model_source.h"
#include "seedtune/v1/peer.grpc.pb.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

pwire::PeerBytes Bytes(int64_t t, int machine, std::string bytes, std::vector<std::pair<int, std::string>> joins = {},
                       bool last = false) {
  pwire::PeerBytes b;
  b.set_iteration(t);
  b.set_machine(machine);
  b.set_bytes(std::move(bytes));
  for (auto& [id, addr] : joins) {
    auto* j = b.add_joins();
    j->set_id(id);
    j->set_address(addr);
  }
  b.set_last(last);
  return b;
}

TEST(PeerWireTest, BytesAreCheckedForIterationSenderCountAndJoins) {
  EXPECT_TRUE(CheckPeerBytes(Bytes(3, 1, "ab"), 3, 1, 2, 4).ok());
  EXPECT_TRUE(CheckPeerBytes(Bytes(0, 0, "", {{2, "h:1"}}), 0, 0, 2, 4).ok());
  const Status count = CheckPeerBytes(Bytes(3, 1, "abc"), 3, 1, 2, 4);
  EXPECT_EQ(count.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(count.message().find("sent 3 bytes for iteration 3, expected 2"), std::string::npos) << count.message();
  EXPECT_FALSE(CheckPeerBytes(Bytes(3, 1, ""), 3, 1, 2, 4).ok());
  EXPECT_FALSE(CheckPeerBytes(Bytes(0, 0, "x"), 0, 0, 2, 4).ok());  // iteration 0 carries no bytes
  EXPECT_FALSE(CheckPeerBytes(Bytes(2, 1, "ab"), 3, 1, 2, 4).ok());  // another iteration
  EXPECT_FALSE(CheckPeerBytes(Bytes(3, 2, "ab"), 3, 1, 2, 4).ok());  // signed as another peer
  const Status unknown = CheckPeerBytes(Bytes(3, 1, "ab", {{7, "h:1"}}), 3, 1, 2, 4);
  EXPECT_NE(unknown.message().find("unknown peer 7"), std::string::npos) << unknown.message();
  EXPECT_FALSE(CheckPeerBytes(Bytes(3, 1, "ab", {{2, ""}}), 3, 1, 2, 4).ok());
  EXPECT_FALSE(CheckPeerBytes(Bytes(3, 1, "ab", {{2, "bad\naddress:1"}}), 3, 1, 2, 4).ok());
  EXPECT_EQ(CheckPeerProtocolVersion(2).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckPeerProtocolVersion(kPeerProtocolVersion).ok());
}

TEST(PeerWireTest, RunConfigRoundTripsAndIsValidated) {
  PeerRunSpec s;
  s.onebyte.iterations = 8;
  s.onebyte.lr = 1e-3f;
  s.onebyte.seed = 9;
  s.data.seed = 9;
  s.data.clients = 3;
  s.base_fingerprint = "0123456789abcdef";
  s.founder_address = "127.0.0.1:5";
  s.data.user.prompt_template = "{text} It was";
  s.data.user.label_words = "bad,good";
  pwire::PeerRunConfig c;
  ToWire(s, &c);
  auto back = FromWire(c);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->onebyte.lr, s.onebyte.lr);
  EXPECT_EQ(back->onebyte.seed, 9u);
  EXPECT_EQ(back->data.clients, 3);
  EXPECT_EQ(back->data.user.prompt_template, s.data.user.prompt_template);
  EXPECT_EQ(back->data.user.label_words, s.data.user.label_words);
  pwire::PeerRunConfig bad = c;
  bad.set_distribution("cauchy");
  EXPECT_FALSE(FromWire(bad).ok());
  bad = c;
  bad.set_samples(0);
  EXPECT_FALSE(FromWire(bad).ok());
  bad = c;
  bad.set_founder_id(3);
  EXPECT_FALSE(FromWire(bad).ok());
  bad = c;
  bad.set_base_fingerprint("xyz");
  EXPECT_FALSE(FromWire(bad).ok());
}

TEST(PeerMembershipTest, JoinsAndLeavesTakeEffectAtTheNextIteration) {
  PeerMembership m(0, "a:1");
  EXPECT_EQ(m.iteration(), 0);
  // Iteration 0: the founder announces peer 1; peer 1 is a member from 1.
  ASSERT_TRUE(m.Advance({Bytes(0, 0, "", {{1, "b:1"}})}).ok());
  EXPECT_EQ(m.ids(), (std::vector<int>{0, 1}));
  EXPECT_EQ(m.Find(1)->join_iteration, 1);
  // Contributions must name exactly the members.
  EXPECT_FALSE(m.Advance({Bytes(1, 0, "xx")}).ok());
  EXPECT_FALSE(m.Advance({Bytes(1, 0, "xx"), Bytes(1, 2, "xx")}).ok());
  EXPECT_FALSE(m.Advance({Bytes(2, 0, "xx"), Bytes(1, 1, "xx")}).ok());
  // Iteration 1: both announce peer 2 (different addresses): the lower
  // announcer wins, deterministically. Peer 1 says it leaves after 1.
  ASSERT_TRUE(m.Advance({Bytes(1, 1, "xx", {{2, "from-1:1"}}, true), Bytes(1, 0, "xx", {{2, "from-0:1"}})}).ok());
  EXPECT_EQ(m.ids(), (std::vector<int>{0, 2}));
  EXPECT_EQ(m.Find(2)->address, "from-0:1");
  EXPECT_EQ(m.Find(2)->join_iteration, 2);
  EXPECT_EQ(m.Find(1)->last_iteration, 1);
  // A peer that left cannot come back under its id.
  ASSERT_TRUE(m.Advance({Bytes(2, 0, "xx", {{1, "b:1"}}), Bytes(2, 2, "xx")}).ok());
  EXPECT_EQ(m.ids(), (std::vector<int>{0, 2}));
  // Everyone leaving is an error, and a refused advance changes nothing: it
  // removed the leavers and marked their last iteration before refusing
  // (found by the wire fuzz target's peer-history check).
  EXPECT_FALSE(m.Advance({Bytes(3, 0, "xx", {}, true), Bytes(3, 2, "xx", {}, true)}).ok());
  EXPECT_EQ(m.iteration(), 3);
  EXPECT_EQ(m.ids(), (std::vector<int>{0, 2}));
  EXPECT_EQ(m.Find(0)->last_iteration, 0);
  ASSERT_TRUE(m.Advance({Bytes(3, 0, "xx"), Bytes(3, 2, "xx")}).ok()) << "the membership is still usable";
}

TEST(PeerMembershipTest, RecordsFollowTheInProcessEngine) {
  // PeerRecords builds the seeds RunOneByte uses: StepSeed(run, t, m * 2^16 + s).
  auto recs = PeerRecords({Bytes(4, 0, "\x41\x42"), Bytes(4, 3, std::string("\xc1\x00", 2))}, 17);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[2].machine, 3);
  EXPECT_EQ(recs[2].sample, 0);
  EXPECT_EQ(recs[2].seed, StepSeed(17, 4, 3u * 65536u));
  EXPECT_EQ(recs[3].seed, StepSeed(17, 4, 3u * 65536u + 1));
  EXPECT_EQ(recs[2].byte, 0xc1);
  EXPECT_EQ(OneByteUpdates(recs, 1.0f).size(), 3u);  // the zero byte applies nothing
}

// A founder in process (not running iterations): its service refuses
// malformed calls with the right status.
TEST(PeerServiceTest, MalformedCallsAreRefused) {
  PeerOptions o;
  o.id = 0;
  o.listen = "127.0.0.1:0";
  o.run.onebyte.iterations = 4;
  o.run.data.clients = 3;
  o.on_log = [](const std::string&) {};
  const std::string fp = "0123456789abcdef";
  auto node = PeerNode::Start(o, fp);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  auto stub = pwire::Peer::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string((*node)->port()), grpc::InsecureChannelCredentials()));
  auto hello = [&](uint32_t version, int id, const std::string& base, pwire::HelloResponse* resp, bool probe = false) {
    pwire::HelloRequest req;
    req.set_protocol_version(version);
    req.set_id(id);
    req.set_address("127.0.0.1:1");
    req.set_base_fingerprint(base);
    req.set_probe(probe);
    grpc::ClientContext ctx;
    return stub->Hello(&ctx, req, resp);
  };
  pwire::HelloResponse hr;
  grpc::Status s = hello(2, 1, fp, &hr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("protocol version 2 is not supported"), std::string::npos) << s.error_message();
  EXPECT_EQ(hello(1, 9, fp, &hr).error_code(), grpc::StatusCode::INVALID_ARGUMENT);   // unknown peer id
  EXPECT_EQ(hello(1, 0, fp, &hr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // the founder's own id
  EXPECT_EQ(hello(1, 1, "fedcba9876543210", &hr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // A probe only reads the run: it joins no one.
  ASSERT_TRUE(hello(1, 1, fp, &hr, /*probe=*/true).ok());
  EXPECT_EQ(hr.join_iteration(), 0);
  EXPECT_EQ(hr.config().iterations(), 4);
  ASSERT_TRUE(hello(1, 1, fp, &hr).ok());
  EXPECT_EQ(hr.join_iteration(), 1);
  EXPECT_EQ(hr.config().clients(), 3);
  EXPECT_EQ(hr.members_size(), 1);
  EXPECT_EQ(hello(1, 1, fp, &hr).error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // already joining

  auto get_bytes = [&](uint32_t version, int requester, int64_t t, pwire::GetBytesResponse* resp) {
    pwire::GetBytesRequest req;
    req.set_protocol_version(version);
    req.set_requester(requester);
    req.set_iteration(t);
    req.set_wait_ms(0);
    grpc::ClientContext ctx;
    return stub->GetBytes(&ctx, req, resp);
  };
  pwire::GetBytesResponse br;
  EXPECT_EQ(get_bytes(3, 1, 1, &br).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  s = get_bytes(1, 99, 1, &br);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("unknown peer 99"), std::string::npos) << s.error_message();
  EXPECT_EQ(get_bytes(1, 1, 5, &br).error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // past the run
  EXPECT_EQ(get_bytes(1, 1, -1, &br).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(get_bytes(1, 1, 1, &br).ok());
  EXPECT_FALSE(br.ready());  // not published yet

  pwire::GetHistoryRequest hreq;
  hreq.set_protocol_version(1);
  hreq.set_requester(1);
  hreq.set_since_iteration(-5);
  pwire::GetHistoryResponse hresp;
  grpc::ClientContext hctx;
  EXPECT_EQ(stub->GetHistory(&hctx, hreq, &hresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// ---- three processes ----

std::string Stories() {
  auto p = FindAsset("models/stories260K/stories260K.bin");
  return p && FindAsset("data/sst2/train.tsv") ? *p : "";
}

std::vector<nlohmann::json> Events(const std::string& path, const std::string& event) {
  std::vector<nlohmann::json> out;
  std::istringstream in(testing::ReadFileText(path));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("event", "") == event) out.push_back(j);
  }
  return out;
}

TEST(PeerCliTest, ThreePeersOneJoiningLateOneLeavingAllSurvivorsIdentical) {
  const std::string model = Stories();
  if (model.empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("peer-cli");
  const std::string bin = SEEDTUNE_BINARY;
  const int64_t iterations = 10, leave_after = 8;
  const std::string run = fmt::format(
      "--task sst2 --clients 3 --partition iid --train-n 48 --dev-n 0 --max-length 64 --batch 2 --samples 2 "
      "--iterations {} --lr 1e-3 --eps 1e-3 --seed 7",
      iterations);
  auto start = [&](int k, const std::string& extra) {
    const std::string name = fmt::format("{}/p{}", dir, k);
    return testing::Spawn(fmt::format("{} peer --id {} --listen 127.0.0.1:0 --port-file {}.port -m {} --threads 1 "
                                      "--pace 0.4 --peer-timeout 20 --json --metrics {}.jsonl {} > {}.out 2> {}.err",
                                      bin, k, name, model, name, extra, name, name));
  };
  const pid_t p0 = start(0, run + " --min-peers 2");
  const std::string port0 = testing::WaitForFile(dir + "/p0.port", 20);
  ASSERT_FALSE(port0.empty()) << testing::ReadFileText(dir + "/p0.err");
  const pid_t p1 = start(1, fmt::format("--bootstrap 127.0.0.1:{} --leave-after {}", std::stoi(port0), leave_after));
  const std::string port1 = testing::WaitForFile(dir + "/p1.port", 20);
  ASSERT_FALSE(port1.empty()) << testing::ReadFileText(dir + "/p1.err");
  // A joiner given options that disagree with the run stops before it is announced.
  const pid_t bad = start(2, fmt::format("--bootstrap 127.0.0.1:{} --train-n 99", std::stoi(port1)));
  EXPECT_EQ(testing::WaitExit(bad, 20), 1);
  EXPECT_NE(testing::ReadFileText(dir + "/p2.err").find("--train-n 99 was given, but the run uses --train-n 48"),
            std::string::npos)
      << testing::ReadFileText(dir + "/p2.err");
  // Peer 2 joins late, through peer 1 (not the founder), checking the run's options it was given.
  ASSERT_TRUE(testing::WaitForText(dir + "/p0.jsonl", "\"iteration\":2,", 20));
  const pid_t p2 = start(2, fmt::format("--bootstrap 127.0.0.1:{} --task sst2 --samples 2", std::stoi(port1)));
  for (pid_t p : {p0, p1, p2}) EXPECT_EQ(testing::WaitExit(p, 40), 0);

  // Every peer's fingerprint after every iteration, and the summaries.
  std::map<int64_t, std::map<int, std::string>> fps;
  std::map<int64_t, std::vector<int>> contributors;
  std::map<int, nlohmann::json> summary;
  for (int k = 0; k < 3; ++k) {
    const std::string metrics = fmt::format("{}/p{}.jsonl", dir, k);
    for (const auto& e : Events(metrics, "iteration")) {
      fps[e["iteration"].get<int64_t>()][k] = e["fingerprint"].get<std::string>();
      contributors[e["iteration"].get<int64_t>()] = e["contributors"].get<std::vector<int>>();
    }
    auto s = Events(metrics, "summary");
    ASSERT_EQ(s.size(), 1u) << "peer " << k << ": " << testing::ReadFileText(fmt::format("{}/p{}.err", dir, k));
    summary[k] = s[0];
  }
  const int64_t t0 = summary[2]["join_iteration"].get<int64_t>();
  ASSERT_GT(t0, 1);
  ASSERT_LE(t0, leave_after);  // joined while peer 1 (its bootstrap) was a member
  EXPECT_EQ(summary[0]["join_iteration"], 1);
  EXPECT_EQ(summary[1]["join_iteration"], 1);
  EXPECT_EQ(summary[1]["last_iteration"], leave_after);
  EXPECT_EQ(summary[0]["last_iteration"], iterations);
  EXPECT_EQ(summary[2]["last_iteration"], iterations);
  EXPECT_EQ(summary[2]["replayed"], t0 - 1);
  ASSERT_EQ(fps.size(), static_cast<size_t>(iterations));
  for (const auto& [t, by_peer] : fps) {
    std::set<int> expect = {0};
    if (t <= leave_after) expect.insert(1);
    if (t >= t0) expect.insert(2);
    std::set<int> got;
    std::set<std::string> distinct;
    for (const auto& [k, fp] : by_peer) {
      got.insert(k);
      distinct.insert(fp);
    }
    EXPECT_EQ(got, expect) << "iteration " << t;
    EXPECT_EQ(distinct.size(), 1u) << "iteration " << t;
    EXPECT_EQ(contributors[t], std::vector<int>(expect.begin(), expect.end())) << "iteration " << t;
  }
  // The joiner's replay matched its bootstrap's fingerprint at every replayed iteration.
  auto replayed = Events(dir + "/p2.jsonl", "replayed");
  ASSERT_EQ(replayed.size(), static_cast<size_t>(t0));  // iterations 0..t0-1
  for (const auto& e : replayed) {
    EXPECT_EQ(e["fingerprint"], e["bootstrap_fingerprint"]);
    const int64_t t = e["iteration"].get<int64_t>();
    if (t > 0) {
      EXPECT_EQ(e["fingerprint"].get<std::string>(), fps[t][0]) << "iteration " << t;
    }
  }

  // The in-process engine with the same schedule computes the same models.
  auto base = LoadModelSpec(model);
  ASSERT_TRUE(base.ok());
  auto tok = LoadTokenizerForModel(model, base->config(), "");
  ASSERT_TRUE(tok.ok());
  FederatedDataOptions d;
  d.task = "sst2";
  d.clients = 3;
  d.partition = "iid";
  d.train_n = 48;
  d.dev_n = 0;
  d.eval_n = 0;
  d.max_length = 64;
  d.seed = 7;
  auto data = LoadFederatedData(d, **tok, base->config());
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  OneByteOptions o;
  o.iterations = iterations;
  o.samples = 2;
  o.batch_size = 2;
  o.lr = 1e-3f;
  o.eps = 1e-3f;
  o.seed = 7;
  o.join = {1, 1, t0};
  o.leave = {0, leave_after + 1, 0};
  ThreadingContext ctx(1);
  auto logs = RunOneByte(*base, ctx, data->shards, data->objective, o);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  for (const auto& it : *logs)
    EXPECT_EQ(it.fingerprints.begin()->second, fps[it.iteration][0]) << "iteration " << it.iteration;
  EXPECT_EQ(summary[0]["fingerprint"], logs->back().fingerprints.begin()->second);
  EXPECT_EQ(summary[2]["fingerprint"], summary[0]["fingerprint"]);

  for (int k = 0; k < 3; ++k)
    std::printf("peer %d: payload %.1f / %.1f bytes, wire %.1f / %.1f bytes up / down per iteration; catch-up %llu "
                "bytes\n",
                k, summary[k]["payload_up_bytes_per_iteration"].get<double>(),
                summary[k]["payload_down_bytes_per_iteration"].get<double>(),
                summary[k]["wire_up_bytes_per_iteration"].get<double>(),
                summary[k]["wire_down_bytes_per_iteration"].get<double>(),
                static_cast<unsigned long long>(summary[k]["catchup_wire_bytes"].get<uint64_t>()));
}

}  // namespace
}  // namespace seedtune
