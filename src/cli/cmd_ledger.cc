// seedtune ledger show | verify | export | repair (docs/ledger.md).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "core/progress.h"
#include "core/threading.h"
#include "formats/convert.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"

namespace seedtune::cli {

CommandRunner RegisterLedger(CLI::App& app) {
  auto* cmd = app.add_subcommand("ledger", "Inspect, verify and export seed ledgers (docs/ledger.md)");
  cmd->require_subcommand(1);
  struct Args {
    std::string file, model, out, format = "hf";
    bool json = false, from_snapshot = false, no_snapshots = false, force = false;
    uint64_t upto = 0;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* show = cmd->add_subcommand("show",
                                   "Header, record count, byte size, last fingerprint, snapshots, torn-tail report");
  show->add_option("file", a->file, "Ledger file")->required();
  show->add_flag("--json", a->json, "JSON output");
  auto* verify = cmd->add_subcommand(
      "verify", "Replay on the base model and check every recorded fingerprint and every snapshot");
  verify->add_option("file", a->file, "Ledger file")->required();
  verify->add_option("-m,--model", a->model, "The base model the run started from")->required();
  verify->add_flag("--from-snapshot", a->from_snapshot,
                   "Start at the latest usable snapshot instead of the base (checks only what follows it)");
  verify->add_option("--threads", a->threads, "Worker threads (0 = all cores)")->check(InRange(0, MaxThreads()));
  auto* exp = cmd->add_subcommand("export", "Materialise the fine-tuned model (replay) as a Hugging Face dir or llama2.c file");
  exp->add_option("file", a->file, "Ledger file")->required();
  exp->add_option("-m,--model", a->model, "The base model the run started from")->required();
  exp->add_option("-o,--out", a->out, "Output directory (hf) or file (llama2c)")->required();
  exp->add_option("--format", a->format, "hf or llama2c")->check(CLI::IsMember({"hf", "llama2c"}));
  exp->add_option("--upto", a->upto, "Stop after this round (default: all records)")->check(AtLeast(0));
  exp->add_flag("--no-snapshots", a->no_snapshots,
                "Replay every record from the base instead of starting at the latest usable snapshot");
  AddForceOption(exp, &a->force);
  exp->add_option("--threads", a->threads, "Worker threads (0 = all cores)")->check(InRange(0, MaxThreads()));
  auto* repair = cmd->add_subcommand(
      "repair",
      "Save a damaged ledger's valid prefix as the ledger, keeping the original as FILE.damaged-N (never truncated)");
  repair->add_option("file", a->file, "Ledger file")->required();
  return [a, show, verify, exp, repair]() -> int {
    if (repair->parsed()) {
      auto before = ReadLedger(a->file);
      if (!before.ok()) return Fail("ledger repair", before.status());
      auto kept = RepairLedger(a->file);
      if (!kept.ok()) return Fail("ledger repair", kept.status());
      std::fprintf(stderr, "%s: kept the original as %s; the ledger now holds its %zu valid records (%s)\n",
                   a->file.c_str(), kept->c_str(), before->records.size(), before->tail_problem.c_str());
      return 0;
    }
    auto contents = ReadLedger(a->file);
    if (!contents.ok()) return Fail("ledger", contents.status());
    if (!contents->tail_problem.empty())
      std::fprintf(stderr, "warning: %s: %s (valid prefix: %zu records)\n", a->file.c_str(),
                   contents->tail_problem.c_str(), contents->records.size());
    if (exp->parsed()) {  // before the replay: refuse to write over the run's inputs
      std::vector<std::string> inputs = {ModelInputPath(a->model), a->file};
      for (const auto& s : contents->snapshots) inputs.push_back(ResolveSnapshotPath(a->file, s.path));
      if (Status s = CheckOutputPath(a->out, inputs, a->force); !s.ok()) return Fail("ledger export", s);
    }
    if (show->parsed()) {
      std::string last_fp;
      for (const auto& r : contents->records)
        if (r.has_fingerprint) last_fp = FingerprintHex(r.fingerprint);
      size_t updates = 0, aux_bytes = 0;
      for (const auto& r : contents->records) updates += r.updates.size(), aux_bytes += r.aux.size();
      const auto& h = contents->header;
      // "" when the snapshot is a regular file (links followed), else what it is.
      auto snapshot_problem = [&](const LedgerSnapshot& s) -> std::string {
        namespace fs = std::filesystem;
        std::error_code ec;
        const fs::path p = ResolveSnapshotPath(a->file, s.path);
        const fs::file_status st = fs::status(p, ec);
        if (st.type() == fs::file_type::regular) return "";
        if (fs::is_symlink(fs::symlink_status(p, ec)) && st.type() == fs::file_type::not_found) return "dangling link";
        switch (st.type()) {
          case fs::file_type::not_found: return "missing";
          case fs::file_type::directory: return "a directory, not a file";
          case fs::file_type::fifo: return "a FIFO, not a file";
          case fs::file_type::block:
          case fs::file_type::character: return "a device, not a file";
          default: return "not a regular file";
        }
      };
      auto snapshot_exists = [&](const LedgerSnapshot& s) { return snapshot_problem(s).empty(); };
      if (a->json) {
        nlohmann::ordered_json j{{"file", a->file},
                                 {"format_version", h.format_version},
                                 {"rng_spec_version", h.rng_spec_version},
                                 {"algorithm", h.algorithm},
                                 {"hyperparameters", h.hyperparameters},
                                 {"run_seed", h.run_seed},
                                 {"distribution", h.distribution},
                                 {"base_fingerprint", h.base_fingerprint},
                                 {"records", contents->records.size()},
                                 {"updates", updates},
                                 {"last_round", contents->records.empty() ? 0 : contents->records.back().round},
                                 {"last_fingerprint", last_fp},
                                 {"aux_bytes", aux_bytes},
                                 {"snapshots", nlohmann::ordered_json::array()},
                                 {"valid_bytes", contents->valid_bytes},
                                 {"file_bytes", contents->file_bytes},
                                 {"tail_problem", contents->tail_problem}};
        for (const auto& s : contents->snapshots)
          j["snapshots"].push_back({{"round", s.round},
                                    {"fingerprint", FingerprintHex(s.fingerprint)},
                                    {"path", s.path},
                                    {"exists", snapshot_exists(s)}});
        std::printf("%s\n", j.dump(2).c_str());
      } else {
        std::printf("ledger       %s (format %u, RNG spec %u)\n", a->file.c_str(), h.format_version, h.rng_spec_version);
        std::printf("algorithm    %s  seed %llu  z %s\n", h.algorithm.c_str(), static_cast<unsigned long long>(h.run_seed),
                    h.distribution.c_str());
        std::printf("hyperparams  %s\n", h.hyperparameters.c_str());
        std::printf("base         %s\n", h.base_fingerprint.c_str());
        std::printf("records      %zu (%zu updates), last round %llu\n", contents->records.size(), updates,
                    static_cast<unsigned long long>(contents->records.empty() ? 0 : contents->records.back().round));
        std::printf("last fp      %s\n", last_fp.empty() ? "(none recorded)" : last_fp.c_str());
        if (aux_bytes > 0) std::printf("aux          %zu bytes\n", aux_bytes);
        std::printf("snapshots    %zu\n", contents->snapshots.size());
        for (const auto& s : contents->snapshots)
          std::printf("  round %-8llu %s  %s%s\n", static_cast<unsigned long long>(s.round),
                      FingerprintHex(s.fingerprint).c_str(), s.path.c_str(), snapshot_exists(s) ? "" : ("  (" + snapshot_problem(s) + ")").c_str());
        std::printf("size         %llu bytes valid of %llu\n", static_cast<unsigned long long>(contents->valid_bytes),
                    static_cast<unsigned long long>(contents->file_bytes));
      }
      return contents->tail_problem.empty() ? 0 : 3;
    }
    auto weights = LoadModelSpec(a->model);
    if (!weights.ok()) return Fail("ledger", weights.status());
    ThreadingContext ctx(a->threads);
    ReplayOptions ropts;
    ropts.verify = true;
    ropts.ledger_path = a->file;
    if (verify->parsed()) {
      ropts.check_snapshots = true;
      ropts.use_snapshots = a->from_snapshot;
    } else {
      ropts.upto = a->upto;
      ropts.use_snapshots = !a->no_snapshots;
    }
    ProgressBar bar("replay", static_cast<int64_t>(contents->records.size()), "rec");
    auto report = ReplayLedger(*contents, &*weights, ctx, ropts, [&](int64_t d, int64_t) { bar.Update(d); });
    bar.Finish();
    if (!report.ok()) return Fail("ledger", report.status());
    const std::string start =
        report->from_snapshot
            ? fmt::format("from the round-{} snapshot {} ({} records skipped)", report->snapshot_round,
                          report->snapshot_path, report->records_skipped)
            : std::string("from the base");
    if (verify->parsed()) {
      std::printf("ok: %lld records replayed %s, %lld fingerprints checked, %lld of %zu snapshots checked, final %s\n",
                  static_cast<long long>(report->records_applied), start.c_str(),
                  static_cast<long long>(report->fingerprints_checked),
                  static_cast<long long>(report->snapshots_checked), contents->snapshots.size(),
                  FingerprintHex(report->final_fingerprint).c_str());
      if (!report->snapshot_problem.empty()) {
        std::printf("snapshot problems: %s\n", report->snapshot_problem.c_str());
        return 3;
      }
      return contents->tail_problem.empty() ? 0 : 3;
    }
    auto hash = LedgerHash(a->file, contents->valid_bytes);
    if (!hash.ok()) return Fail("ledger", hash.status());
    ExportOptions opts;
    opts.hf.metadata["seedtune.base_fingerprint"] = contents->header.base_fingerprint;
    opts.hf.metadata["seedtune.ledger_hash"] = *hash;
    opts.hf.metadata["seedtune.fingerprint"] = FingerprintHex(report->final_fingerprint);
    Status s = ExportModel(*weights, a->out, a->format == "hf" ? ExportFormat::kHuggingFace : ExportFormat::kLlama2c,
                           opts);
    if (!s.ok()) return Fail("ledger", s);
    std::printf("wrote %s: %lld records replayed %s, last round %llu, fingerprint %s\n", a->out.c_str(),
                static_cast<long long>(report->records_applied), start.c_str(),
                static_cast<unsigned long long>(report->last_round), FingerprintHex(report->final_fingerprint).c_str());
    if (!report->snapshot_problem.empty()) std::printf("snapshot problems: %s\n", report->snapshot_problem.c_str());
    return 0;
  };
}

}  // namespace seedtune::cli
