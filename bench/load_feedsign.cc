// Load test of the coordinator (docs/network.md, "Load test"): a real
// `seedtune server --algo feedsign` process on loopback (model-free: it holds
// no weights) and N synthetic clients in this process, each with its own gRPC
// channel and TCP connection, that join and answer every round at once with a
// random +-1 sign (no model). Reports rounds per second, round latency (server:
// round open -> publish, from its --metrics lines; clients: one plan to the
// next), the server's CPU seconds, peak RSS and thread count, and bytes per
// client per step, next to this machine's cores and load.
//
//   load_feedsign [--clients 200] [--rounds 50] [--seedtune PATH] [--poll-ms 5000] [--keep]
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "seedtune/v1/federation.grpc.pb.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace wire = ::seedtune::v1;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kProtocol = 1;
constexpr const char* kBase = "5eed5eed5eed5eed";

double Secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The fingerprint every synthetic client reports after round r (all agree).
std::string FakeFingerprint(int64_t r) {
  if (r == 0) return kBase;
  uint64_t z = static_cast<uint64_t>(r) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z ^= z >> 31;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(z));
  return buf;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// From /proc/<pid>: CPU seconds (utime + stime), VmHWM, threads.
struct ProcSample {
  bool ok = false;
  double cpu_s = 0, hwm_bytes = 0;
  int threads = 0;
};

// Bytes through the loopback interface so far (all of this machine's loopback traffic).
double LoopbackBytes() {
  return std::atof(ReadText("/sys/class/net/lo/statistics/tx_bytes").c_str());
}

ProcSample SampleProc(pid_t pid) {
  ProcSample s;
  const std::string dir = "/proc/" + std::to_string(pid) + "/";
  const std::string stat = ReadText(dir + "stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return s;
  std::istringstream in(stat.substr(paren + 2));
  std::vector<std::string> f;
  for (std::string x; in >> x;) f.push_back(x);
  // Fields after "(comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12.
  if (f.size() < 13) return s;
  const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tck;
  std::istringstream st(ReadText(dir + "status"));
  for (std::string line; std::getline(st, line);) {
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_bytes = std::stod(line.substr(6)) * 1024.0;
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stoi(line.substr(8));
  }
  s.ok = s.hwm_bytes > 0;
  return s;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(idx), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

struct Shared {
  int rounds = 0;
  uint32_t poll_ms = 5000;
  std::string target;
  std::mutex mu;
  std::map<int64_t, Clock::time_point> first_plan;  // round -> earliest plan receipt at any client
  Clock::time_point last_done{};
  std::atomic<uint64_t> up{0}, down{0}, calls{0};
  std::atomic<int> failed{0}, done{0};
  std::string first_error;
};

std::string Fail(Shared& sh, int k, const char* call, const grpc::Status& s) {
  std::lock_guard<std::mutex> lock(sh.mu);
  if (sh.first_error.empty())
    sh.first_error = "client " + std::to_string(k) + " " + call + ": " + s.error_message() + " (code " +
                     std::to_string(static_cast<int>(s.error_code())) + ")";
  ++sh.failed;
  return sh.first_error;
}

// One synthetic client: its own channel (a local subchannel pool, so its own
// TCP connection); joins, then polls and answers each plan with a random sign.
void RunClient(Shared& sh, int k) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("seedtune.load.client", k);  // distinct args: never a shared channel
  auto channel = grpc::CreateCustomChannel(sh.target, grpc::InsecureChannelCredentials(), args);
  auto stub = wire::Coordinator::NewStub(channel);
  std::mt19937_64 rng(0x5eedull + static_cast<uint64_t>(k));
  auto deadline = [](grpc::ClientContext& c, double s) {
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000)));
  };
  auto count = [&sh](const google::protobuf::Message& req, const google::protobuf::Message& resp) {
    sh.up += req.ByteSizeLong();
    sh.down += resp.ByteSizeLong();
    ++sh.calls;
  };
  {
    wire::JoinRequest req;
    req.set_protocol_version(kProtocol);
    req.set_client_id(k);
    req.set_num_examples(10);
    req.set_base_fingerprint(kBase);
    wire::JoinResponse resp;
    grpc::Status s;
    for (int attempt = 0; attempt < 50; ++attempt) {  // the server may still be starting
      grpc::ClientContext ctx;
      deadline(ctx, 20.0);
      ctx.set_wait_for_ready(true);
      s = stub->Join(&ctx, req, &resp);
      if (s.ok() || s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!s.ok()) return (void)Fail(sh, k, "Join", s);
    count(req, resp);
  }
  int64_t applied = 0;
  for (;;) {
    wire::GetTaskRequest req;
    req.set_protocol_version(kProtocol);
    req.set_client_id(k);
    req.set_applied_round(applied);
    req.set_fingerprint(FakeFingerprint(applied));
    req.set_wait_ms(sh.poll_ms);
    wire::GetTaskResponse resp;
    grpc::ClientContext ctx;
    deadline(ctx, sh.poll_ms / 1000.0 + 30.0);
    grpc::Status s = stub->GetTask(&ctx, req, &resp);
    if (!s.ok()) return (void)Fail(sh, k, "GetTask", s);
    count(req, resp);
    if (resp.action() == wire::GetTaskResponse::DONE) break;
    if (resp.action() == wire::GetTaskResponse::FETCH) {
      while (applied < resp.completed_round()) {
        wire::FetchUpdatesRequest freq;
        freq.set_protocol_version(kProtocol);
        freq.set_client_id(k);
        freq.set_since_round(applied);
        wire::FetchUpdatesResponse fresp;
        grpc::ClientContext fctx;
        deadline(fctx, 30.0);
        grpc::Status fs = stub->FetchUpdates(&fctx, freq, &fresp);
        if (!fs.ok()) return (void)Fail(sh, k, "FetchUpdates", fs);
        count(freq, fresp);
        if (fresp.records_size() == 0) break;
        applied = fresp.records(fresp.records_size() - 1).round();
      }
    } else if (resp.action() == wire::GetTaskResponse::TRAIN) {
      const auto now = Clock::now();
      const int64_t round = resp.plan().round();
      {
        std::lock_guard<std::mutex> lock(sh.mu);
        auto it = sh.first_plan.find(round);
        if (it == sh.first_plan.end() || now < it->second) sh.first_plan[round] = now;
      }
      wire::SubmitReplyRequest sreq;
      sreq.set_protocol_version(kProtocol);
      sreq.set_client_id(k);
      sreq.set_round(round);
      sreq.set_loss(0.6931);
      sreq.set_sign((rng() & 1) ? 1 : -1);
      wire::SubmitReplyResponse sresp;
      grpc::ClientContext sctx;
      deadline(sctx, 30.0);
      grpc::Status ss = stub->SubmitReply(&sctx, sreq, &sresp);
      if (!ss.ok()) return (void)Fail(sh, k, "SubmitReply", ss);
      count(sreq, sresp);
    }
  }
  std::lock_guard<std::mutex> lock(sh.mu);
  sh.last_done = std::max(sh.last_done, Clock::now());
  ++sh.done;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 200, rounds = 50;
  uint32_t poll_ms = 5000;
  bool keep = false;
  std::error_code ec;
  std::string seedtune = (fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "seedtune").string();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--clients") clients = std::atoi(next().c_str());
    else if (a == "--rounds") rounds = std::atoi(next().c_str());
    else if (a == "--seedtune") seedtune = next();
    else if (a == "--poll-ms") poll_ms = static_cast<uint32_t>(std::atoi(next().c_str()));
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: load_feedsign [--clients N] [--rounds R] [--seedtune PATH] [--poll-ms MS] [--keep]\n");
      return 2;
    }
  }
  if (clients < 1 || rounds < 1 || !fs::exists(seedtune)) {
    std::fprintf(stderr, "load_feedsign: need clients, rounds >= 1 and the seedtune binary (%s)\n", seedtune.c_str());
    return 2;
  }
  // Machine context: this VM is shared, so cores and load are part of the result.
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  const int cores = CPU_COUNT(&set);
  const std::string load_before = ReadText("/proc/loadavg");
  struct rlimit nofile {};
  getrlimit(RLIMIT_NOFILE, &nofile);

  std::string dir = (fs::temp_directory_path() / "seedtune-load-XXXXXX").string();
  if (!mkdtemp(dir.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string port_file = dir + "/port", metrics = dir + "/server.jsonl";
  std::vector<std::string> sargs = {seedtune, "server", "--algo", "feedsign", "--listen", "127.0.0.1:0",
                                    "--port-file", port_file, "--ledger", dir + "/load.ledger", "--metrics", metrics,
                                    "--json", "--clients", std::to_string(clients), "--rounds", std::to_string(rounds),
                                    "--base-fingerprint", kBase, "--partition", "iid", "--train-n",
                                    std::to_string(clients * 10), "--lr", "1e-3", "--finish-timeout", "10",
                                    "--round-timeout", "60"};
  std::vector<char*> av;
  for (auto& s : sargs) av.push_back(s.data());
  av.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, (dir + "/server.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, (dir + "/server.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t server = -1;
  if (posix_spawn(&server, seedtune.c_str(), &fa, nullptr, av.data(), environ) != 0) {
    std::perror("posix_spawn");
    return 1;
  }
  posix_spawn_file_actions_destroy(&fa);
  int port = 0;
  for (int i = 0; i < 1000 && port == 0; ++i) {
    const std::string p = ReadText(port_file);
    if (!p.empty() && p.back() == '\n') port = std::atoi(p.c_str());
    else std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (port == 0) {
    std::fprintf(stderr, "load_feedsign: the server did not start:\n%s\n", ReadText(dir + "/server.err").c_str());
    kill(server, SIGKILL);
    waitpid(server, nullptr, 0);
    return 1;
  }
  std::printf("machine          %d cores (affinity), load average before: %s", cores, load_before.c_str());
  std::printf("setup            seedtune server --algo feedsign (pid %d, port %d), %d synthetic clients, %d rounds, "
              "long poll %u ms, fd limit %llu\n",
              server, port, clients, rounds, poll_ms, static_cast<unsigned long long>(nofile.rlim_cur));
  std::fflush(stdout);

  Shared sh;
  sh.rounds = rounds;
  sh.poll_ms = poll_ms;
  sh.target = "127.0.0.1:" + std::to_string(port);
  struct rusage self_before {};
  getrusage(RUSAGE_SELF, &self_before);
  const double lo_before = LoopbackBytes();
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(clients));
  for (int k = 0; k < clients; ++k) threads.emplace_back(RunClient, std::ref(sh), k);

  // Sample the server while it runs (its last sample before exit stands for the run).
  ProcSample last, peak;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      ProcSample s = SampleProc(server);
      if (s.ok) {
        last = s;
        peak.threads = std::max(peak.threads, s.threads);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (auto& t : threads) t.join();
  const auto t_clients = Clock::now();
  const double lo_bytes = LoopbackBytes() - lo_before;
  struct rusage ru {};
  int status = 0;
  // The server exits once every client reported the last round (or after --finish-timeout).
  const pid_t r = wait4(server, &status, 0, &ru);
  sampling = false;
  sampler.join();
  struct rusage self_after {};
  getrusage(RUSAGE_SELF, &self_after);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  const double server_cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
  const double server_rss = static_cast<double>(ru.ru_maxrss) * 1024.0;
  const double clients_cpu = tv(self_after.ru_utime) + tv(self_after.ru_stime) - tv(self_before.ru_utime) -
                             tv(self_before.ru_stime);

  if (sh.failed > 0 || r != server || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "load_feedsign: %d clients failed (first: %s); server exit %d; logs in %s\n%s\n",
                 sh.failed.load(), sh.first_error.c_str(), WIFEXITED(status) ? WEXITSTATUS(status) : -1, dir.c_str(),
                 ReadText(dir + "/server.err").substr(0, 4000).c_str());
    return 1;
  }

  // Server-side round latency: round open -> publish ("seconds" of each round line).
  std::vector<double> server_lat;
  nlohmann::json summary;
  std::istringstream in(ReadText(metrics));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (j.value("event", "") == "round") server_lat.push_back(j.value("seconds", 0.0));
    if (j.value("event", "") == "summary") summary = j;
  }
  // Client-side step period: earliest plan of round r+1 minus earliest plan of round r.
  std::vector<double> period;
  for (auto it = sh.first_plan.begin(); it != sh.first_plan.end(); ++it) {
    auto nx = std::next(it);
    if (nx != sh.first_plan.end() && nx->first == it->first + 1) period.push_back(Secs(it->second, nx->second));
  }
  const double span = sh.first_plan.empty() ? 0.0 : Secs(sh.first_plan.begin()->second, sh.last_done);
  const double steps = static_cast<double>(summary.value("rounds", 0));
  const double per = static_cast<double>(clients) * std::max(steps, 1.0);

  std::printf("rounds           %.0f of %d completed; %lld replies, %lld late, %lld refused, %lld fingerprint "
              "mismatches\n",
              steps, rounds, static_cast<long long>(summary.value("replies", 0)),
              static_cast<long long>(summary.value("late", 0)), static_cast<long long>(summary.value("rejects", 0)),
              static_cast<long long>(summary.value("fingerprint_mismatches", 0)));
  std::printf("throughput       %.2f steps/s (%.0f rounds in %.2f s from the first plan to the last client done; "
              "%.2f s with joins)\n",
              span > 0 ? steps / span : 0.0, steps, span, Secs(t0, t_clients));
  std::printf("round latency    server open->publish: p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%zu)\n",
              1e3 * Percentile(server_lat, 0.5), 1e3 * Percentile(server_lat, 0.99),
              1e3 * Percentile(server_lat, 1.0), server_lat.size());
  std::printf("step period      clients, plan -> next plan: p50 %.1f ms, p99 %.1f ms (n=%zu)\n",
              1e3 * Percentile(period, 0.5), 1e3 * Percentile(period, 0.99), period.size());
  std::printf("server CPU       %.2f s (wait4; /proc/%d/stat last sample %.2f s) = %.1f ms per step, %.0f%% of one "
              "core over the run, %.0f%% of the machine's %d cores\n",
              server_cpu, server, last.cpu_s, steps > 0 ? 1e3 * server_cpu / steps : 0.0,
              100.0 * server_cpu / std::max(Secs(t0, t_clients), 1e-9),
              100.0 * server_cpu / std::max(Secs(t0, t_clients), 1e-9) / cores, cores);
  std::printf("server switches  %.0f voluntary + %.0f involuntary context switches = %.0f per step (wait4)\n",
              static_cast<double>(ru.ru_nvcsw), static_cast<double>(ru.ru_nivcsw),
              steps > 0 ? static_cast<double>(ru.ru_nvcsw + ru.ru_nivcsw) / steps : 0.0);
  std::printf("server memory    peak RSS %.1f MiB (wait4 ru_maxrss; VmHWM last sample %.1f MiB), peak %d threads\n",
              server_rss / 1048576.0, last.hwm_bytes / 1048576.0, peak.threads);
  std::printf("clients CPU      %.2f s in this process (%d client threads)\n", clients_cpu, clients);
  std::printf("wire per client per step  server count of serialized messages, all calls: %.1f B up / %.1f B down; "
              "client count: %.1f B up / %.1f B down in %.1f calls\n",
              summary.value("wire_up_bytes_per_client_round", 0.0),
              summary.value("wire_down_bytes_per_client_round", 0.0), static_cast<double>(sh.up.load()) / per,
              static_cast<double>(sh.down.load()) / per, static_cast<double>(sh.calls.load()) / per);
  std::printf("transport        loopback interface: %.1f B per client per step, both directions (HTTP/2, TCP/IP "
              "headers and ACKs included; any other loopback traffic on this machine too)\n",
              lo_bytes / per);
  std::printf("payload          %.3f B up / %.3f B down per client per step (one sign / one vote)\n",
              summary.value("payload_up_bytes_per_client_round", 0.0),
              summary.value("payload_down_bytes_per_client_round", 0.0));
  if (keep) std::printf("logs             %s\n", dir.c_str());
  else fs::remove_all(dir, ec);
  return 0;
}
