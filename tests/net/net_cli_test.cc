// `seedtune server` and `seedtune client` as separate processes on loopback:
// a networked run ends with the same model (and ledger) as `seedtune simulate`
// with the same options; tokens and TLS keep strangers out; a client killed
// mid-run, a coordinator killed and restarted from its ledger, and a client
// joining late all end with every client holding the same model.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/assets.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "support/child_process.h"
#include "runtime/model_source.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

using testing::ReadFileText;

std::string Stories() {
  auto p = FindAsset("models/stories260K/stories260K.bin");
  return p && FindAsset("data/sst2/train.tsv") ? *p : "";
}

std::string Bin() { return SEEDTUNE_BINARY; }
// stories260K's tokenizer: every test server pins the run's tokens with it, as
// simulate's ledger records them.
std::string Tokenizer() {
  auto p = FindAsset("models/stories260K/tok512.bin");
  return p ? *p : "";
}
std::string ClientName(int k) { return fmt::format("c{}", k); }  // (fmt: GCC 12 warns on "c" + to_string)

// One networked run in its own directory: server and client processes with
// their outputs in files named after them.
struct Net {
  std::string dir, model, run;  // run: options shared by server and simulate
  int port = 0;
  pid_t server = -1;

  Net(const std::string& tag, std::string run_options) : dir(testing::MakeTempDir(tag)), model(Stories()),
                                                         run(std::move(run_options)) {}

  // --listen 127.0.0.1:0 picks a free port, read back from the port file.
  bool StartServer(const std::string& extra = "", const std::string& name = "server") {
    std::remove((dir + "/port").c_str());
    const std::string listen = port > 0 ? "127.0.0.1:" + std::to_string(port) : "127.0.0.1:0";
    server = testing::Spawn(Bin() + " server " + run + " --listen " + listen + " --port-file " + dir + "/port" +
                            " --ledger " + dir + "/net.ledger --metrics " + dir + "/server.jsonl --json --tokenizer " +
                            Tokenizer() + " " + extra +
                            " > " + dir + "/" + name + ".out 2> " + dir + "/" + name + ".err");
    const std::string p = testing::WaitForFile(dir + "/port", 20);
    if (p.empty()) return false;
    port = std::stoi(p);
    return true;
  }
  pid_t StartClient(int k, const std::string& extra = "") const {
    const std::string name = dir + "/" + ClientName(k);
    return testing::Spawn(fmt::format("{} client --server 127.0.0.1:{} -m {} --client-id {} --threads 1 --json "
                                      "--metrics {}.jsonl {} > {}.out 2> {}.err",
                                      Bin(), port, model, k, name, extra, name, name));
  }
  std::string ClientFingerprint(int k) const {
    const std::string out = ReadFileText(dir + "/" + ClientName(k) + ".out");
    if (out.empty()) return "";
    return nlohmann::json::parse(out).value("fingerprint", "");
  }
  std::string Err(const std::string& name) const { return ReadFileText(dir + "/" + name + ".err"); }
  nlohmann::json Summary(const std::string& name = "server") const {
    const std::string out = ReadFileText(dir + "/" + name + ".out");
    return out.empty() ? nlohmann::json::object() : nlohmann::json::parse(out);
  }
  std::vector<nlohmann::json> ServerEvents(const std::string& event) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadFileText(dir + "/server.jsonl"));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["event"] == event) out.push_back(j);
    }
    return out;
  }
  // The final fingerprint of a replay of the coordinator's ledger from the base.
  std::string ReplayedFingerprint() const {
    auto ledger = ReadLedger(dir + "/net.ledger");
    auto base = LoadModelSpec(model);
    if (!ledger.ok() || !base.ok()) return "unreadable";
    ThreadingContext ctx(1);
    auto r = ReplayLedger(*ledger, &*base, ctx);
    return r.ok() ? FingerprintHex(r->final_fingerprint) : r.status().ToString();
  }
};

int RunCli(const std::string& args) {
  return testing::WaitExit(testing::Spawn(Bin() + " " + args + " > /dev/null 2>&1"), 120);
}

void ExpectSameLedger(const std::string& sim_path, const std::string& net_path) {
  auto sim = ReadLedger(sim_path);
  auto net = ReadLedger(net_path);
  ASSERT_TRUE(sim.ok() && net.ok());
  EXPECT_EQ(net->header.algorithm, sim->header.algorithm);
  EXPECT_EQ(net->header.hyperparameters, sim->header.hyperparameters);
  EXPECT_EQ(net->header.run_seed, sim->header.run_seed);
  EXPECT_EQ(net->header.distribution, sim->header.distribution);
  EXPECT_EQ(net->header.base_fingerprint, sim->header.base_fingerprint);
  ASSERT_EQ(net->records.size(), sim->records.size());
  for (size_t i = 0; i < sim->records.size(); ++i) {
    const LedgerRecord &s = sim->records[i], &n = net->records[i];
    EXPECT_EQ(n.round, s.round);
    EXPECT_EQ(n.participants, s.participants) << "round " << s.round;
    EXPECT_EQ(n.aux, s.aux) << "round " << s.round;
    ASSERT_EQ(n.updates.size(), s.updates.size()) << "round " << s.round;
    for (size_t u = 0; u < s.updates.size(); ++u) {
      EXPECT_EQ(n.updates[u].seed, s.updates[u].seed);
      EXPECT_EQ(std::memcmp(&n.updates[u].alpha, &s.updates[u].alpha, 4), 0) << "round " << s.round;
      EXPECT_EQ(n.updates[u].decay, s.updates[u].decay);
    }
  }
}

const char* kData = " --task sst2 --partition iid --train-n 64 --dev-n 0";

struct EqualCase {
  const char* name;
  const char* options;
};
void PrintTo(const EqualCase& c, std::ostream* os) { *os << c.name; }

class NetEqualsSimulateTest : public ::testing::TestWithParam<EqualCase> {};

TEST_P(NetEqualsSimulateTest, FourClientProcessesEndWithTheSimulatedModelAndLedger) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net(std::string("net-") + GetParam().name, std::string(GetParam().options) + kData + " --clients 4");
  ASSERT_EQ(RunCli("simulate " + net.run + " -m " + net.model + " --eval-n 0 --threads 1 --ledger " + net.dir +
                   "/sim.ledger --metrics " + net.dir + "/sim.jsonl"),
            0);
  auto sim = ReadLedger(net.dir + "/sim.ledger");
  ASSERT_TRUE(sim.ok() && !sim->records.empty());
  const std::string want = FingerprintHex(sim->records.back().fingerprint);

  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  std::vector<pid_t> clients;
  for (int k = 0; k < 4; ++k) clients.push_back(net.StartClient(k));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(testing::WaitExit(clients[k], 60), 0) << net.Err(ClientName(k));
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  for (int k = 0; k < 4; ++k) EXPECT_EQ(net.ClientFingerprint(k), want) << "client " << k;
  const auto summary = net.Summary();
  EXPECT_EQ(summary["final_fingerprint"], want);
  EXPECT_EQ(summary["fingerprint_mismatches"], 0);
  EXPECT_EQ(summary["rejects"], 0);
  ExpectSameLedger(net.dir + "/sim.ledger", net.dir + "/net.ledger");
  EXPECT_EQ(net.ReplayedFingerprint(), want);

  // Each round's algorithm payload is what the simulation counts; the wire
  // carries it inside serialized messages.
  std::vector<nlohmann::json> sim_rounds;
  std::istringstream in(ReadFileText(net.dir + "/sim.jsonl"));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "round") sim_rounds.push_back(j);
  }
  const auto rounds = net.ServerEvents("round");
  ASSERT_EQ(rounds.size(), sim_rounds.size());
  double up = 0, down = 0, task = 0, pay_up = 0, pay_down = 0;
  for (size_t i = 0; i < rounds.size(); ++i) {
    EXPECT_EQ(rounds[i]["payload_up_bits"], sim_rounds[i]["up_bits"]);
    EXPECT_EQ(rounds[i]["payload_down_bits"], sim_rounds[i]["down_bits"]);
    EXPECT_GE(rounds[i]["wire_up_bytes"].get<double>() * 8, rounds[i]["payload_up_bits"].get<double>());
    up += rounds[i]["wire_up_bytes"].get<double>();
    task += rounds[i]["wire_task_bytes"].get<double>();
    down += rounds[i]["wire_down_bytes"].get<double>();
    pay_up += rounds[i]["payload_up_bits"].get<double>() / 8;
    pay_down += rounds[i]["payload_down_bits"].get<double>() / 8;
  }
  const double n = static_cast<double>(rounds.size());
  std::printf("[ %s ] per participant per round: payload up %.1f B, wire reply %.1f B, wire plan %.1f B; "
              "per client per round: payload down %.1f B, wire record %.1f B; all calls: %.1f B up / %.1f B down "
              "per client per round\n",
              GetParam().name, pay_up / n, up / n, task / n, pay_down / n, down / n,
              summary["wire_up_bytes_per_client_round"].get<double>(),
              summary["wire_down_bytes_per_client_round"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, NetEqualsSimulateTest,
    ::testing::Values(EqualCase{"fedkseed", "--algo fedkseed --K 64 --local-steps 5 --rounds 4 --client-fraction 0.5 "
                                            "--lr 1e-4 --seed 7"},
                      EqualCase{"fedkseed_pro", "--algo fedkseed-pro --K 64 --local-steps 5 --rounds 4 "
                                                "--client-fraction 0.5 --lr 1e-4 --seed 7"},
                      EqualCase{"feedsign", "--algo feedsign --batch 2 --rounds 5 --lr 1e-3 --seed 3"},
                      EqualCase{"zo_fedsgd", "--algo zo-fedsgd --batch 2 --rounds 3 --lr 1e-4 --aggregate median "
                                             "--seed 5"},
                      // Its options reach the clients only through RunConfig.params.
                      EqualCase{"decomfl", "--algo decomfl --batch 2 --rounds 4 --lr 1e-4 --perturbations 3 "
                                           "--steps-per-round 2 --sampled-clients 3 --seed 4"}),
    [](const ::testing::TestParamInfo<EqualCase>& info) { return std::string(info.param.name); });

TEST(NetCliTest, TokensAreRequiredAndBoundToTheirClient) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-tokens", std::string("--algo feedsign --batch 2 --rounds 2 --lr 1e-3") + kData + " --clients 2");
  { std::ofstream(net.dir + "/tokens") << "# client-id token\n0 tok-zero\n1 tok-one\n"; }
  ASSERT_TRUE(net.StartServer("--tokens " + net.dir + "/tokens")) << net.Err("server");
  EXPECT_EQ(testing::WaitExit(net.StartClient(0), 30), 1);
  EXPECT_NE(net.Err("c0").find("UNAUTHENTICATED"), std::string::npos) << net.Err("c0");
  EXPECT_NE(net.Err("c0").find("bearer token"), std::string::npos) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(net.StartClient(0, "--token nope"), 30), 1);
  EXPECT_NE(net.Err("c0").find("unknown bearer token"), std::string::npos) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(net.StartClient(1, "--token tok-zero"), 30), 1);
  EXPECT_NE(net.Err("c1").find("PERMISSION_DENIED"), std::string::npos) << net.Err("c1");
  EXPECT_NE(net.Err("c1").find("belongs to client 0"), std::string::npos) << net.Err("c1");

  // Authenticated, but told to train on other data than the run's: it refuses.
  EXPECT_EQ(testing::WaitExit(net.StartClient(0, "--token tok-zero --train-n 99"), 30), 1);
  EXPECT_NE(net.Err("c0").find("--train-n 99 was given, but the coordinator runs --train-n 64"), std::string::npos)
      << net.Err("c0");

  const pid_t c0 = net.StartClient(0, "--token tok-zero"), c1 = net.StartClient(1, "--token tok-one");
  EXPECT_EQ(testing::WaitExit(c0, 60), 0) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(c1, 60), 0) << net.Err("c1");
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  EXPECT_EQ(net.Summary()["rejects"], 3);
  EXPECT_EQ(net.ClientFingerprint(0), net.ClientFingerprint(1));
}

TEST(NetCliTest, ClientKilledMidRunTheRoundCompletesAtQuorum) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-kill-client", std::string("--algo feedsign --batch 2 --rounds 40 --lr 1e-3") + kData + " --clients 4");
  ASSERT_TRUE(net.StartServer("--quorum 2 --min-clients 3 --round-timeout 1 --heartbeat-timeout 1 "
                              "--heartbeat-interval 0.2"))
      << net.Err("server");
  // Client 3 first, so that it takes part from round 1; killed once it has trained.
  std::vector<pid_t> clients(4);
  clients[3] = net.StartClient(3);
  ASSERT_TRUE(testing::WaitForText(net.dir + "/c3.jsonl", "\"event\":\"join\"", 30)) << net.Err("c3");
  for (int k = 0; k < 3; ++k) clients[k] = net.StartClient(k);
  ASSERT_TRUE(testing::WaitForText(net.dir + "/c3.jsonl", "\"event\":\"train\"", 30)) << net.Err("c3");
  testing::KillProcess(clients[3], SIGKILL);
  EXPECT_EQ(testing::WaitExit(clients[3], 10), -1);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(testing::WaitExit(clients[k], 60), 0) << net.Err(ClientName(k));
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  const auto summary = net.Summary();
  EXPECT_EQ(summary["rounds"], 40);
  EXPECT_EQ(summary["fingerprint_mismatches"], 0);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(net.ClientFingerprint(k), summary["final_fingerprint"]) << "client " << k;
  EXPECT_EQ(net.ReplayedFingerprint(), summary["final_fingerprint"]);
  const auto rounds = net.ServerEvents("round");
  ASSERT_EQ(rounds.size(), 40u);
  EXPECT_EQ(rounds.back()["participants"], nlohmann::json({0, 1, 2})) << "the killed client is gone";
  bool closed_at_quorum = false;
  for (const auto& r : rounds) closed_at_quorum |= r["replies"].get<size_t>() < r["participants"].size();
  EXPECT_TRUE(closed_at_quorum) << "a round it took part in closed at its deadline without it";
  EXPECT_NE(net.Err("server").find("client 3 lost"), std::string::npos) << net.Err("server");
  // While a round waited for the dead client, the log said who it waited for.
  bool named = false;
  std::istringstream log(net.Err("server"));
  for (std::string line; std::getline(log, line);)
    named |= line.find("for client(s) ") != std::string::npos && line.find("3 (") != std::string::npos;
  EXPECT_TRUE(named) << net.Err("server");
}

// FedKSeed-Pro also checks that the strategy's history comes back from the
// ledger's aux bytes.
class NetRestartTest : public ::testing::TestWithParam<const char*> {};

TEST_P(NetRestartTest, ServerKilledAndRestartedFromItsLedgerEndsAsUninterrupted) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-kill-server", std::string("--algo ") + GetParam() +
                                 " --K 64 --local-steps 10 --rounds 12 --client-fraction 0.5 --lr 1e-4 --seed 9" +
                                 kData + " --clients 4");
  ASSERT_EQ(RunCli("simulate " + net.run + " -m " + net.model + " --eval-n 0 --threads 1 --ledger " + net.dir +
                   "/sim.ledger"),
            0);
  auto sim = ReadLedger(net.dir + "/sim.ledger");
  ASSERT_TRUE(sim.ok() && sim->records.size() == 12u);
  const std::string want = FingerprintHex(sim->records.back().fingerprint);

  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  std::vector<pid_t> clients;
  for (int k = 0; k < 4; ++k) clients.push_back(net.StartClient(k));
  ASSERT_TRUE(testing::WaitForText(net.dir + "/server.jsonl", "\"round\":1,", 30)) << net.Err("server");
  testing::KillProcess(net.server, SIGKILL);
  ASSERT_EQ(testing::WaitExit(net.server, 10), -1) << "killed before the run ended";
  ASSERT_TRUE(net.StartServer("", "server2")) << net.Err("server2");  // same port, same ledger
  for (int k = 0; k < 4; ++k) EXPECT_EQ(testing::WaitExit(clients[k], 90), 0) << net.Err(ClientName(k));
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server2");
  EXPECT_NE(net.Err("server2").find("resumed"), std::string::npos) << net.Err("server2");
  for (int k = 0; k < 4; ++k) EXPECT_EQ(net.ClientFingerprint(k), want) << "client " << k;
  EXPECT_EQ(net.Summary("server2")["fingerprint_mismatches"], 0);
  ExpectSameLedger(net.dir + "/sim.ledger", net.dir + "/net.ledger");
}

INSTANTIATE_TEST_SUITE_P(FedKSeed, NetRestartTest, ::testing::Values("fedkseed", "fedkseed-pro"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == "fedkseed" ? "plain" : "pro";
                         });

TEST(NetCliTest, LateClientCatchesUpByReplayFromTheBase) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-late", std::string("--algo feedsign --batch 2 --rounds 10 --lr 1e-3") + kData + " --clients 4");
  // While client 3 is missing, each round waits 0.4 s before opening with the others.
  ASSERT_TRUE(net.StartServer("--round-timeout 0.4 --quorum 1")) << net.Err("server");
  std::vector<pid_t> clients;
  for (int k = 0; k < 3; ++k) clients.push_back(net.StartClient(k));
  ASSERT_TRUE(testing::WaitForText(net.dir + "/server.jsonl", "\"round\":3,", 30)) << net.Err("server");
  clients.push_back(net.StartClient(3));
  for (int k = 0; k < 4; ++k) EXPECT_EQ(testing::WaitExit(clients[k], 60), 0) << net.Err(ClientName(k));
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  const auto summary = net.Summary();
  EXPECT_EQ(summary["fingerprint_mismatches"], 0);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(net.ClientFingerprint(k), summary["final_fingerprint"]) << "client " << k;
  EXPECT_EQ(net.ReplayedFingerprint(), summary["final_fingerprint"]);
  // Its first replay covered several rounds at once, from the base model.
  std::istringstream in(ReadFileText(net.dir + "/c3.jsonl"));
  nlohmann::json first_apply;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "apply") {
      first_apply = j;
      break;
    }
  }
  ASSERT_FALSE(first_apply.is_null());
  EXPECT_GE(first_apply["records"].get<int>(), 3);
  EXPECT_LT(first_apply["round"].get<int>(), 10) << "it joined before the run ended";
}

TEST(NetCliTest, TlsWithASelfSignedCertificateAndPlaintextRefused) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-tls", std::string("--algo feedsign --batch 2 --rounds 2 --lr 1e-3") + kData + " --clients 2");
  const int made = testing::WaitExit(
      testing::Spawn("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
                     "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                     net.dir + "/key.pem -out " + net.dir + "/cert.pem > /dev/null 2>&1"),
      60);
  if (made != 0) GTEST_SKIP() << "openssl could not make a certificate";
  ASSERT_TRUE(net.StartServer("--tls-cert " + net.dir + "/cert.pem --tls-key " + net.dir + "/key.pem"))
      << net.Err("server");
  EXPECT_EQ(testing::WaitExit(net.StartClient(0, "--connect-timeout 1.5"), 30), 1) << "plaintext to a TLS server";
  EXPECT_NE(net.Err("c0").find("unreachable"), std::string::npos) << net.Err("c0");
  const pid_t c0 = net.StartClient(0, "--ca " + net.dir + "/cert.pem");
  const pid_t c1 = net.StartClient(1, "--ca " + net.dir + "/cert.pem");
  EXPECT_EQ(testing::WaitExit(c0, 60), 0) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(c1, 60), 0) << net.Err("c1");
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  EXPECT_EQ(net.ClientFingerprint(0), net.ClientFingerprint(1));
  EXPECT_EQ(net.Summary()["final_fingerprint"], net.ClientFingerprint(0));
}

// The server names the task, but a client reads only its own data: a file
// task outside its data root is refused before it trains on it; inside the
// root (relative to --data) the same run goes ahead.
// The server pins the tokens the data encodes to (--tokenizer): a client
// with another tokenizer is refused before it trains, naming both digests;
// one with the run's tokenizer takes part.
TEST(NetCliTest, AClientWithAnotherTokenizerIsRefused) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  auto other = testing::WriteStories260kTokenizerWithOtherMerges("net-tokenizer");
  ASSERT_TRUE(other.has_value());
  Net net("net-tokenizer-run", std::string("--algo feedsign --batch 2 --rounds 2 --lr 1e-3 --seed 2") + kData +
                                   " --clients 1");
  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  EXPECT_EQ(testing::WaitExit(net.StartClient(0, "-t " + *other + " --connect-timeout 5"), 60), 1);
  EXPECT_NE(net.Err("c0").find("this client encodes the run's data to other tokens than the server's --tokenizer"),
            std::string::npos)
      << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(net.StartClient(0), 60), 0) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
}

TEST(NetCliTest, AClientRefusesATaskFileOutsideItsDataRoot) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("net-data-root");
  std::filesystem::create_directories(dir + "/client-data");
  {
    std::ofstream f(dir + "/server-file.txt");
    for (int i = 0; i < 40; ++i) f << "a line only the server should have " << i << "\n";
  }
  std::filesystem::copy_file(dir + "/server-file.txt", dir + "/client-data/texts.txt");
  const std::string common = "--algo feedsign --batch 2 --rounds 2 --lr 1e-3 --partition iid --train-n 16 --dev-n 0 "
                             "--clients 1 --data " + dir;
  // The server can read the task (--data is its root); the client must refuse it.
  auto expect_refused = [&](const std::string& tag, const std::string& run, const std::string& error) {
    Net net(tag, run);
    ASSERT_TRUE(net.StartServer()) << net.Err("server");
    EXPECT_EQ(testing::WaitExit(net.StartClient(0, "--data " + dir + "/client-data --connect-timeout 5"), 60), 1);
    EXPECT_NE(net.Err("c0").find(error), std::string::npos) << net.Err("c0");
    testing::KillProcess(net.server, SIGKILL);
    testing::WaitExit(net.server, 10);
  };
  expect_refused("net-data-root-abs", common + " --task text:" + dir + "/server-file.txt",
                 "must be a path relative to this participant's data root");
  expect_refused("net-data-root-dotdot", common + "/client-data --task text:../server-file.txt",
                 "'..' would leave this participant's data root");

  Net inside("net-data-root-ok", "--algo feedsign --batch 2 --rounds 2 --lr 1e-3 --partition iid --train-n 16 "
                                 "--dev-n 0 --clients 1 --data " + dir + "/client-data --task text:texts.txt");
  ASSERT_TRUE(inside.StartServer()) << inside.Err("server");
  EXPECT_EQ(testing::WaitExit(inside.StartClient(0, "--data " + dir + "/client-data"), 60), 0) << inside.Err("c0");
  EXPECT_EQ(testing::WaitExit(inside.server, 30), 0) << inside.Err("server");
}


// The two ledger cases end to end: a second server on a running
// server's --ledger is refused naming the first one's pid (they interleaved
// 565 records before) while the honest run finishes untouched; a server
// restarted on a ledger with one flipped bit mid-file stops, naming the byte,
// and keeps every byte (it truncated 88 intact records before); `ledger
// repair` keeps the original beside the valid prefix.
TEST(NetCliTest, ASecondServerIsRefusedAndADamagedLedgerIsKeptWhole) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-ledger-guard", std::string("--algo fedkseed --K 64 --local-steps 5 --rounds 8 --client-fraction 1 "
                                          "--lr 1e-4 --seed 5") + kData + " --clients 2");
  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  // With one of its two clients joined, the server has created (and holds)
  // its ledger and waits for the other.
  const pid_t c0 = net.StartClient(0);
  ASSERT_TRUE(testing::WaitForText(net.dir + "/server.err", "ledger " + net.dir + "/net.ledger created", 30))
      << net.Err("server");
  const std::string second_server = Bin() + " server " + net.run + " --listen 127.0.0.1:0 --ledger " + net.dir +
                                    "/net.ledger --json --tokenizer " + Tokenizer();
  EXPECT_EQ(testing::WaitExit(testing::Spawn(second_server + " > " + net.dir + "/second.out 2> " + net.dir +
                                             "/second.err"),
                              60),
            1);
  EXPECT_NE(net.Err("second").find("(pid " + std::to_string(net.server) + ") is writing this ledger"),
            std::string::npos)
      << net.Err("second");
  const pid_t c1 = net.StartClient(1);
  EXPECT_EQ(testing::WaitExit(c0, 90), 0) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(c1, 90), 0) << net.Err("c1");
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  const std::string final_fingerprint = net.Summary()["final_fingerprint"];
  EXPECT_EQ(net.ClientFingerprint(0), final_fingerprint);
  EXPECT_EQ(net.ReplayedFingerprint(), final_fingerprint) << "the ledger holds the run the clients hold";
  auto whole = ReadLedger(net.dir + "/net.ledger");
  ASSERT_TRUE(whole.ok() && whole->records.size() == 8u);

  // A restart with other data options is refused naming the field, and the
  // ledger is left as it was.
  const std::string path = net.dir + "/net.ledger";
  std::string bytes = ReadFileText(path);
  std::string other_data = second_server;
  other_data.replace(other_data.find("--train-n 64"), 12, "--train-n 48");
  EXPECT_EQ(testing::WaitExit(testing::Spawn(other_data + " > " + net.dir + "/other.out 2> " + net.dir + "/other.err"),
                              60),
            1);
  EXPECT_NE(net.Err("other").find("the ledger records a different run: train_n is 64 there, 48 here"),
            std::string::npos)
      << net.Err("other");
  EXPECT_EQ(ReadFileText(path), bytes);
  // So is one with another tokenizer (the same examples, other tokens).
  auto other_tok = testing::WriteStories260kTokenizerWithOtherMerges("net-ledger-guard-tok");
  ASSERT_TRUE(other_tok.has_value());
  std::string other_tokens = second_server;
  other_tokens.replace(other_tokens.find(Tokenizer()), Tokenizer().size(), *other_tok);
  EXPECT_EQ(testing::WaitExit(testing::Spawn(other_tokens + " > " + net.dir + "/tok.out 2> " + net.dir + "/tok.err"),
                              60),
            1);
  EXPECT_NE(net.Err("tok").find("the ledger records a different run: tokens is"), std::string::npos)
      << net.Err("tok");
  EXPECT_EQ(ReadFileText(path), bytes);

  // One flipped bit in the middle of the file.
  const size_t where = bytes.size() / 2;
  bytes[where] = static_cast<char>(bytes[where] ^ 0x10);
  {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  EXPECT_EQ(testing::WaitExit(testing::Spawn(second_server + " > " + net.dir + "/restart.out 2> " + net.dir +
                                             "/restart.err"),
                              60),
            1);
  EXPECT_NE(net.Err("restart").find("ledger repair"), std::string::npos) << net.Err("restart");
  EXPECT_NE(net.Err("restart").find("byte "), std::string::npos) << net.Err("restart");
  EXPECT_EQ(ReadFileText(path), bytes) << "not a byte of the damaged ledger may change";

  ASSERT_EQ(RunCli("ledger repair " + path), 0);
  EXPECT_EQ(ReadFileText(path + ".damaged-1"), bytes) << "the original is kept";
  auto prefix = ReadLedger(path);
  ASSERT_TRUE(prefix.ok());
  EXPECT_TRUE(prefix->tail_problem.empty()) << prefix->tail_problem;
  EXPECT_LT(prefix->records.size(), 8u);
  EXPECT_EQ(ReadFileText(path), bytes.substr(0, ReadFileText(path).size())) << "the repaired file is a prefix";
}


// The network defects a new user met: a second server on a port in use, an
// invalid or missing port, an unknown host, `--algo onebyte` on a server, and
// a finished run restarted; each gets a clear error (or message) at once.
TEST(NetCliTest, PortsHostsAndFinishedRunsAreExplained) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-addresses", std::string("--algo feedsign --batch 2 --rounds 2 --lr 1e-3") + kData + " --clients 1");
  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  const std::string server = Bin() + " server " + net.run + " --ledger " + net.dir + "/other.ledger";
  auto expect_refused = [&](const std::string& name, const std::string& command, const std::string& words) {
    EXPECT_EQ(testing::WaitExit(testing::Spawn(command + " > " + net.dir + "/" + name + ".out 2> " + net.dir + "/" +
                                               name + ".err"),
                                30),
              1)
        << name;
    EXPECT_NE(net.Err(name).find(words), std::string::npos) << name << ": " << net.Err(name);
  };
  // gRPC's default SO_REUSEPORT let a second server bind the same port.
  expect_refused("same-port", server + " --listen 127.0.0.1:" + std::to_string(net.port),
                 "the port is in use (another server?)");
  expect_refused("bad-port", server + " --listen 127.0.0.1:99999", "the port must be a number in 0..65535");
  expect_refused("no-port", server + " --listen 127.0.0.1", "has no port: give host:port");
  expect_refused("onebyte", Bin() + " server --algo onebyte --ledger " + net.dir + "/x.ledger",
                 "every machine runs `seedtune peer`");
  const std::string client = Bin() + " client -m " + net.model + " --client-id 0 --connect-timeout 30 --server ";
  expect_refused("client-no-port", client + "127.0.0.1", "--server '127.0.0.1' has no port");
  expect_refused("client-unknown-host", client + "no-such-host.invalid:50051", "cannot resolve host no-such-host.invalid");
  EXPECT_FALSE(std::filesystem::exists(net.dir + "/other.ledger")) << "no refused server wrote a ledger";

  // The honest run on the first server finishes (the client prints its
  // evaluation without --json); restarted, the server says the run is complete.
  ASSERT_EQ(testing::WaitExit(net.StartClient(0, "--eval-n 8"), 60), 0) << net.Err("c0");
  EXPECT_NE(net.Err("c0").find("client 0: final model on 8 evaluation examples: accuracy "), std::string::npos)
      << net.Err("c0");
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  ASSERT_TRUE(net.StartServer("", "again")) << net.Err("again");
  EXPECT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("again");
  EXPECT_NE(net.Err("again").find("the run is complete (2 of 2 rounds); nothing to do"), std::string::npos)
      << net.Err("again");
  EXPECT_NE(net.Err("again").find("(the run was already complete: see above)"), std::string::npos) << net.Err("again");
}


// A second process with a live client's id was told "joined again" and hung;
// now it is refused (the first keeps its slot) and the run goes on.
TEST(NetCliTest, ASecondLiveClientWithTheSameIdIsRefused) {
  if (Stories().empty()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  Net net("net-same-id", std::string("--algo feedsign --batch 2 --rounds 3 --lr 1e-3") + kData + " --clients 2");
  ASSERT_TRUE(net.StartServer()) << net.Err("server");
  // Client 0 joins and waits (heartbeating) for client 1.
  const pid_t first = net.StartClient(0);
  ASSERT_TRUE(testing::WaitForText(net.dir + "/server.err", "client 0 joined", 30)) << net.Err("server");
  const std::string copy = net.dir + "/copy";
  EXPECT_EQ(testing::WaitExit(testing::Spawn(fmt::format("{} client --server 127.0.0.1:{} -m {} --client-id 0 "
                                                         "--threads 1 > {}.out 2> {}.err",
                                                         Bin(), net.port, net.model, copy, copy)),
                              60),
            1);
  EXPECT_NE(net.Err("copy").find("client id 0 is held by another live client"), std::string::npos) << net.Err("copy");
  const pid_t second = net.StartClient(1);
  EXPECT_EQ(testing::WaitExit(first, 60), 0) << net.Err("c0");
  EXPECT_EQ(testing::WaitExit(second, 60), 0) << net.Err("c1");
  ASSERT_EQ(testing::WaitExit(net.server, 30), 0) << net.Err("server");
  EXPECT_EQ(net.ClientFingerprint(0), net.Summary()["final_fingerprint"]);
  EXPECT_NE(net.Err("server").find("client id 0 is held by another live client"), std::string::npos)
      << "the server says so too:\n" << net.Err("server");
}

}  // namespace
}  // namespace seedtune
