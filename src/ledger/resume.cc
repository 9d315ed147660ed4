#include "ledger/resume.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <vector>

namespace seedtune {

namespace {

Status Differs(const std::string& field, const std::string& recorded, const std::string& expected) {
  return FailedPrecondition("the ledger records a different run: {} is {} there, {} here (resume with the same "
                            "options, or write a new ledger)",
                            field, recorded, expected);
}

}  // namespace

Status CheckSameRun(const LedgerHeader& recorded, const LedgerHeader& expected) {
  if (recorded.algorithm != expected.algorithm) return Differs("the algorithm", recorded.algorithm, expected.algorithm);
  if (recorded.run_seed != expected.run_seed)
    return Differs("the run seed", std::to_string(recorded.run_seed), std::to_string(expected.run_seed));
  if (recorded.distribution != expected.distribution)
    return Differs("the z distribution", recorded.distribution, expected.distribution);
  if (!recorded.base_fingerprint.empty() && !expected.base_fingerprint.empty() &&
      recorded.base_fingerprint != expected.base_fingerprint)
    return Differs("the base model's fingerprint", recorded.base_fingerprint, expected.base_fingerprint);
  if (recorded.hyperparameters == expected.hyperparameters) return Status::Ok();
  const auto old_h = nlohmann::json::parse(recorded.hyperparameters, nullptr, /*allow_exceptions=*/false);
  const auto new_h = nlohmann::json::parse(expected.hyperparameters, nullptr, /*allow_exceptions=*/false);
  if (!old_h.is_object() || !new_h.is_object())
    return Differs("the hyperparameters", recorded.hyperparameters, expected.hyperparameters);
  // Every option that differs, named; the digests of the data ("data",
  // "tokens") only when no option explains them.
  std::vector<std::string> options, digests;
  auto text = [](const nlohmann::json& h, const std::string& key) {
    return h.contains(key) ? h[key].dump() : std::string("absent");
  };
  std::vector<std::string> keys;
  for (const auto& [key, value] : new_h.items()) keys.push_back(key);
  for (const auto& [key, value] : old_h.items())
    if (!new_h.contains(key)) keys.push_back(key);
  for (const std::string& key : keys) {
    if (old_h.contains(key) && new_h.contains(key) && old_h[key] == new_h[key]) continue;
    const std::string d = fmt::format("{} is {} there, {} here", key, text(old_h, key), text(new_h, key));
    (key == "data" || key == "tokens" ? digests : options).push_back(d);
  }
  const auto& named = options.empty() ? digests : options;
  if (!named.empty())
    return FailedPrecondition("the ledger records a different run: {} (resume with the same options, or write a new "
                              "ledger)",
                              fmt::join(named, "; "));
  // Equal as JSON, different as text (number formatting): the same run.
  return Status::Ok();
}

StatusOr<LedgerContents> ReadLedgerForResume(const std::string& path, const LedgerHeader& expected) {
  ASSIGN_OR_RETURN(LedgerContents contents, ReadLedger(path));
  if (Status same = CheckSameRun(contents.header, expected); !same.ok()) return same.WithContext(path);
  // (ReadLedger already holds records to rounds 1, 2, 3, ...; a break there
  // is damage, which CheckAppendable refuses.)
  RETURN_IF_ERROR(CheckAppendable(contents, path));
  return contents;
}

}  // namespace seedtune
