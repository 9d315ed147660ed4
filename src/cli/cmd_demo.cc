// seedtune demo: what `make demo` runs. A real networked federated run on
// loopback: this binary starts `seedtune server` and N `seedtune client`
// processes (posix_spawn of /proc/self/exe), which fine-tune stories260K on
// SST-2 with FedKSeed for a few rounds. Then, in this process, it replays the
// server's ledger on the base model, evaluates the base and the final model on
// SST-2 dev examples, and prints the bytes each client moved per round and
// every client's final fingerprint beside the server's agreed one.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "backend/backend.h"
#include "backend/generate.h"
#include "cli/common.h"
#include "cli/shared_options.h"
#include "core/assets.h"
#include "core/threading.h"
#include "data/objective.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/federated_data.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"

extern char** environ;

namespace seedtune::cli {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <typename... Args>
void Say(fmt::format_string<Args...> f, Args&&... args) {
  std::fputs(fmt::format(f, std::forward<Args>(args)...).c_str(), stdout);
  std::fflush(stdout);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One child process: this binary with `args`, stdout and stderr into files.
struct Child {
  std::string name;
  pid_t pid = -1;
  int exit_code = -1;  // -1: running, killed, or died from a signal
  bool done = false;
};

StatusOr<pid_t> SpawnSelf(const std::string& exe, const std::vector<std::string>& args, const std::string& out,
                          const std::string& err) {
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return IoError("cannot start {}: {}", exe, std::strerror(rc));
  return pid;
}

// Reaps `c` if it has exited; true when it is done.
bool Poll(Child& c) {
  if (c.done) return true;
  int status = 0;
  const pid_t r = waitpid(c.pid, &status, WNOHANG);
  if (r == 0) return false;
  c.done = true;
  c.exit_code = (r == c.pid && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return true;
}

void KillAndReap(Child& c) {
  if (c.done || c.pid <= 0) return;
  kill(c.pid, SIGKILL);
  int status = 0;
  waitpid(c.pid, &status, 0);
  c.done = true;
  c.exit_code = -1;
}

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(ReadText(path));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    const size_t p = text.rfind('\n', pos - 1);
    if (p == std::string::npos) return text;
    if (n < lines) pos = p;
  }
  return text.substr(pos == text.size() ? 0 : pos + 1);
}

struct DemoArgs {
  int rounds = 5, clients = 4, threads = 1, K = 1024, tau = 20, train_n = 400, eval_n = 872, max_length = 128;
  double fraction = 0.5, timeout_s = 300.0;
  float lr = 3e-5f;
  uint64_t seed = 1;
  bool keep = false, generate = true;
  AlgorithmFlags fedkseed_flags;
  std::string model = "models/stories260K/stories260K.bin";
};

// The networked run itself and everything printed about it. Returns the exit
// code; `dir` is the run's temporary directory.
int RunDemo(const DemoArgs& a, const std::string& dir) {
  const auto t_all = Clock::now();
  auto model_path = FindAsset(a.model);
  if (!model_path) model_path = fs::exists(a.model) ? std::optional<std::string>(a.model) : std::nullopt;
  if (!model_path || !FindAsset("data/sst2/dev.tsv"))
    return Fail("demo", NotFound("{} and data/sst2 must be in the asset roots (stories260K lives in ../shared/assets)",
                                 a.model));
  const std::string model = fs::absolute(*model_path).string();
  std::error_code ec;
  const std::string exe = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Fail("demo", IoError("cannot resolve /proc/self/exe: {}", ec.message()));

  Say("seedtune demo: FedKSeed on SST-2 with {}, 1 server + {} clients as separate processes on loopback\n", model,
      a.clients);
  Say("  K={} tau={} client-fraction={} rounds={} lr={:g} train-n={} ({} per client)\n  run directory {} ({})\n\n",
      a.K, a.tau, a.fraction, a.rounds, a.lr, a.train_n, a.train_n / a.clients, dir,
      a.keep ? "kept" : "removed at the end; --keep keeps it");

  // [1] Base model and the evaluation examples, in this process.
  auto t = Clock::now();
  Say("[1/5] loading the base model and {} SST-2 dev examples ...", a.eval_n);
  auto base = LoadModelSpec(model);
  if (!base.ok()) return Fail("demo", base.status());
  auto tok = LoadTokenizerForModel(model, base->config(), "");
  if (!tok.ok()) return Fail("demo", tok.status());
  FederatedDataOptions dopts;
  dopts.task = "sst2";
  dopts.partition = "iid";
  dopts.clients = a.clients;
  dopts.train_n = a.train_n;
  dopts.dev_n = 0;
  dopts.eval_n = a.eval_n;
  dopts.max_length = a.max_length;
  dopts.seed = a.seed;
  auto fdata = LoadFederatedData(dopts, **tok, base->config());
  if (!fdata.ok()) return Fail("demo", fdata.status());
  ThreadingContext ctx(a.threads);
  const std::string base_fp = FingerprintHex(ModelFingerprint(*base, ctx));
  Say(" {:.1f} s (base fingerprint {})\n", Since(t), base_fp);

  t = Clock::now();
  Say("[2/5] evaluating the base model ...");
  StatusOr<EvalResult> before = [&]() -> StatusOr<EvalResult> {
    ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> m, MakeBackend(BackendKind::kCpu, *base, ctx));
    return EvaluateDataset(*m, fdata->eval, fdata->objective, 16);
  }();
  if (!before.ok()) return Fail("demo", before.status());
  Say(" {:.1f} s\n", Since(t));

  // [3] The run: server first (it picks a free port and writes it), then the clients.
  t = Clock::now();
  Say("[3/5] federated run: starting the server ...");
  const std::string ledger = dir + "/run.ledger", port_file = dir + "/port", metrics = dir + "/server.jsonl";
  std::vector<std::string> server_args = {"server",
                                          "--algo", "fedkseed",
                                          "--listen", "127.0.0.1:0",
                                          "--port-file", port_file,
                                          "--ledger", ledger,
                                          "--metrics", metrics,
                                          "--json",
                                          "--clients", std::to_string(a.clients),
                                          "--rounds", std::to_string(a.rounds),
                                          "--K", std::to_string(a.K),
                                          "--local-steps", std::to_string(a.tau),
                                          "--client-fraction", fmt::format("{}", a.fraction),
                                          "--lr", fmt::format("{}", a.lr),
                                          "--seed", std::to_string(a.seed),
                                          "--task", "sst2",
                                          "--partition", "iid",
                                          "--train-n", std::to_string(a.train_n),
                                          "--dev-n", "0",
                                          "--max-length", std::to_string(a.max_length),
                                          "--round-timeout", "60",
                                          "--finish-timeout", "20"};
  std::vector<Child> procs;
  auto kill_all = [&procs] {
    for (Child& c : procs) KillAndReap(c);
  };
  auto spawn = [&](const std::string& name, const std::vector<std::string>& args) -> Status {
    ASSIGN_OR_RETURN(pid_t pid, SpawnSelf(exe, args, dir + "/" + name + ".out", dir + "/" + name + ".err"));
    procs.push_back({name, pid});
    return Status::Ok();
  };
  if (Status s = spawn("server", server_args); !s.ok()) return Fail("demo", s);
  const auto deadline = t_all + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.timeout_s));
  int port = 0;
  while (port == 0) {
    const std::string p = ReadText(port_file);
    if (!p.empty() && p.back() == '\n') port = std::atoi(p.c_str());
    if (port > 0) break;
    if (Poll(procs[0]) || Clock::now() > deadline) {
      kill_all();
      Say("\n");
      return Fail("demo", IoError("the server did not start:\n{}", Tail(ReadText(dir + "/server.err"), 10)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Say(" port {}; starting {} clients\n", port, a.clients);
  for (int k = 0; k < a.clients; ++k) {
    const std::string name = fmt::format("client{}", k);
    Status s = spawn(name, {"client", "--server", fmt::format("127.0.0.1:{}", port), "-m", model, "--client-id",
                            std::to_string(k), "--threads", std::to_string(a.threads), "--json", "--metrics",
                            dir + "/" + name + ".jsonl"});
    if (!s.ok()) {
      kill_all();
      return Fail("demo", s);
    }
  }
  // Wait for every process, printing each round as the server publishes it;
  // past the deadline the stragglers are killed.
  size_t rounds_seen = 0;
  bool timed_out = false;
  for (;;) {
    bool all = true;
    for (Child& c : procs) all = Poll(c) && all;
    std::vector<nlohmann::json> rounds;
    for (auto& j : JsonLines(metrics))
      if (j.value("event", "") == "round") rounds.push_back(std::move(j));
    for (; rounds_seen < rounds.size(); ++rounds_seen) {
      const auto& r = rounds[rounds_seen];
      Say("      round {}/{} published: participants {}, mean loss {:.4f}, {} updates, {:.2f} s\n",
          r.value("round", 0), a.rounds, r["participants"].dump(), r.value("loss", 0.0), r.value("updates", 0),
          r.value("seconds", 0.0));
    }
    if (all) break;
    // A server that failed leaves the clients retrying: stop them now.
    if (procs[0].done && procs[0].exit_code != 0) {
      kill_all();
      break;
    }
    if (Clock::now() > deadline) {
      timed_out = true;
      kill_all();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Say("      all processes finished in {:.1f} s\n", Since(t));
  bool failed = timed_out;
  if (timed_out) Say("  TIMEOUT after {:.0f} s: the processes still running were killed\n", a.timeout_s);
  for (const Child& c : procs)
    if (c.exit_code != 0) {
      failed = true;
      Say("  {} exited with {}; last lines of its log:\n{}\n", c.name,
          c.exit_code < 0 ? std::string("a signal / killed") : std::to_string(c.exit_code),
          Tail(ReadText(dir + "/" + c.name + ".err"), 8));
    }

  // [4] The final model: the server's ledger replayed on the base.
  t = Clock::now();
  Say("[4/5] replaying the server's ledger on the base model and evaluating it ...");
  ModelWeights final_model = base->Clone();
  std::string replay_fp = "(none)";
  auto contents = ReadLedger(ledger);
  if (!contents.ok()) return Fail("demo", contents.status());
  ReplayOptions ropts;
  ropts.ledger_path = ledger;
  auto report = ReplayLedger(*contents, &final_model, ctx, ropts);
  if (!report.ok()) return Fail("demo", report.status());
  replay_fp = FingerprintHex(report->final_fingerprint);
  StatusOr<EvalResult> after = [&]() -> StatusOr<EvalResult> {
    ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> m, MakeBackend(BackendKind::kCpu, final_model, ctx));
    return EvaluateDataset(*m, fdata->eval, fdata->objective, 16);
  }();
  if (!after.ok()) return Fail("demo", after.status());
  Say(" {:.1f} s ({} rounds replayed)\n", Since(t), report->records_applied);

  // [5] Report.
  Say("[5/5] results\n\n");
  Say("accuracy on {} SST-2 dev examples (+- standard error):\n", after->count);
  Say("  before  {:.2f}% +- {:.2f}   loss {:.4f}\n", 100 * before->accuracy, 100 * before->accuracy_stderr,
      before->mean_loss);
  Say("  after   {:.2f}% +- {:.2f}   loss {:.4f}   ({} rounds of FedKSeed)\n", 100 * after->accuracy,
      100 * after->accuracy_stderr, after->mean_loss, report->records_applied);
  const double se = std::hypot(before->accuracy_stderr, after->accuracy_stderr);
  Say("  change  {:+.2f} points = {:+.1f} standard errors (stories260K is a 260K-parameter story model, near chance "
      "on SST-2: a few rounds move it within noise; the loss shows the direction)\n\n",
      100 * (after->accuracy - before->accuracy), se > 0 ? (after->accuracy - before->accuracy) / se : 0.0);

  const nlohmann::json summary =
      nlohmann::json::parse(ReadText(dir + "/server.out"), nullptr, /*allow_exceptions=*/false);
  double pay_up = 0, pay_down = 0, reply = 0, plan = 0, record = 0;
  int n_rounds = 0;
  for (const auto& r : JsonLines(metrics))
    if (r.value("event", "") == "round") {
      pay_up += r.value("payload_up_bits", 0.0) / 8.0;
      pay_down += r.value("payload_down_bits", 0.0) / 8.0;
      reply += r.value("wire_up_bytes", 0.0);
      plan += r.value("wire_task_bytes", 0.0);
      record += r.value("wire_down_bytes", 0.0);
      ++n_rounds;
    }
  if (n_rounds > 0 && summary.is_object()) {
    const double n = n_rounds;
    Say("bytes per client per round (mean over {} rounds):\n", n_rounds);
    Say("  algorithm payload  {:.1f} B up (a sampled client's tau (seed index, scalar) pairs), {:.1f} B down "
        "(the round's update list)\n",
        pay_up / n, pay_down / n);
    Say("  measured on wire   {:.1f} B reply, {:.1f} B plan, {:.1f} B round record (serialized messages)\n", reply / n,
        plan / n, record / n);
    Say("  all calls          {:.1f} B up / {:.1f} B down per client per round, averaged over all {} clients "
        "(incl. joins, polls, heartbeats)\n",
        summary.value("wire_up_bytes_per_client_round", 0.0), summary.value("wire_down_bytes_per_client_round", 0.0),
        a.clients);
    Say("  (a full-model update of stories260K would be {:.0f} KB)\n\n", base->num_params() * 4.0 / 1024.0);
  }

  // Fingerprints: every client's, the server's agreed one, and the replay's.
  const std::string agreed = summary.is_object() ? summary.value("final_fingerprint", "") : "";
  bool match = !agreed.empty() && agreed == replay_fp && !failed;
  Say("final model fingerprints (after round {}):\n", a.rounds);
  for (int k = 0; k < a.clients; ++k) {
    const nlohmann::json c =
        nlohmann::json::parse(ReadText(fmt::format("{}/client{}.out", dir, k)), nullptr, /*allow_exceptions=*/false);
    const std::string fp = c.is_object() ? c.value("fingerprint", "(none)") : "(none)";
    const int64_t round = c.is_object() ? c.value("round", int64_t{-1}) : -1;
    if (fp != agreed || round != a.rounds) match = false;
    Say("  client {}       {}   (trained {} rounds)\n", k, fp, c.is_object() ? c.value("trained", 0) : 0);
  }
  Say("  server agreed  {}\n", agreed.empty() ? "(none)" : agreed);
  Say("  ledger replay  {}   (in this process, from base {})\n", replay_fp, base_fp);
  if (summary.is_object() && summary.value("fingerprint_mismatches", 0) > 0) match = false;
  Say("  {}\n\n", match ? "MATCH: every client holds the same model as the server's ledger"
                        : "MISMATCH: the fingerprints differ or the run failed");

  if (a.generate && match) {
    auto generator = MakeBackend(BackendKind::kCpu, final_model, ctx);
    if (!generator.ok()) return Fail("demo", generator.status());
    const char* text = "Once upon a time";
    auto prompt = (*tok)->Encode(text);
    GenerateOptions g;
    g.max_new_tokens = 40;
    g.stop_token = (*tok)->eos_id();
    auto out = Generate(**generator, prompt, g);
    if (out.ok()) {
      std::vector<int32_t> all = prompt;
      all.insert(all.end(), out->begin(), out->end());
      Say("greedy generation from the fine-tuned stories260K:\n  {}\n\n", (*tok)->Decode(all));
    }
  }
  Say("demo finished in {:.1f} s\n", Since(t_all));
  if (!match) return Fail("demo", DataLoss("the networked run did not end with matching fingerprints (logs in {})", dir));
  return 0;
}

}  // namespace

CommandRunner RegisterDemo(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo",
      "A federated run on loopback: a server and N clients as separate processes fine-tune stories260K on SST-2 "
      "with FedKSeed; prints accuracy before/after, bytes per client per round and the matching fingerprints");
  auto a = std::make_shared<DemoArgs>();
  AddShared(cmd, shared::kRounds, a->rounds, "at most 1000")->check(CLI::Range(1, 1000));
  AddShared(cmd, shared::kClients, a->clients, "one process each, at most 64")->check(CLI::Range(1, 64));
  cmd->add_option("--threads", a->threads, "Threads per client process and for the in-process evaluation (0: all)")
      ->capture_default_str()
      ->check(InRange(0, MaxThreads()));
  // FedKSeed's table, with the demo's smaller run as defaults.
  AddAlgorithmFlagsOf(cmd, &a->fedkseed_flags, FedAlgorithm::kFedKSeed,
                      {{kFedKSeedNumSeeds, a->K}, {kFedKSeedLocalSteps, a->tau}, {kFedKSeedClientFraction, a->fraction}});
  AddShared(cmd, shared::kLr, a->lr);
  AddShared(cmd, shared::kSeed, a->seed);
  AddShared(cmd, shared::kTrainN, a->train_n);
  AddShared(cmd, shared::kEvalN, a->eval_n, "SST-2 dev examples, before and after");
  cmd->add_option("--model", a->model, "Base model (an asset path or file)")->capture_default_str();
  cmd->add_option("--timeout", a->timeout_s, "Seconds before the processes still running are killed")
      ->capture_default_str()
      ->check(Seconds());
  cmd->add_flag("--keep", a->keep, "Keep the run's temporary directory (ledger, logs, metrics)");
  cmd->add_flag("!--no-generate", a->generate, "Skip the greedy-generation line at the end");
  return [a]() -> int {
    std::string tmpl = (fs::temp_directory_path() / "seedtune-demo-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return Fail("demo", IoError("cannot create a temporary directory {}", tmpl));
    const std::string dir = tmpl;
    a->K = static_cast<int>(a->fedkseed_flags.values.at(kFedKSeedNumSeeds));
    a->tau = static_cast<int>(a->fedkseed_flags.values.at(kFedKSeedLocalSteps));
    a->fraction = a->fedkseed_flags.values.at(kFedKSeedClientFraction);
    const int rc = RunDemo(*a, dir);
    std::error_code ec;
    // A failed run keeps its logs; one that failed before starting anything leaves nothing.
    if (a->keep || (rc != 0 && !fs::is_empty(dir, ec))) {
      std::printf("run directory kept: %s\n", dir.c_str());
    } else {
      fs::remove_all(dir, ec);
    }
    return rc;
  };
}

}  // namespace seedtune::cli
