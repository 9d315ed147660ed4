// libFuzzer target for the ledger reader: any byte string must either be
// rejected with a Status or yield a valid prefix that re-encodes to exactly
// the bytes it was read from. Built and run by scripts/fuzz-ledger.sh.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ledger/ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto c = seedtune::ParseLedger(bytes, "fuzz-input");
  if (!c.ok()) return 0;
  if (c->valid_bytes > bytes.size()) std::abort();
  if (c->tail_problem.empty() != (c->valid_bytes == bytes.size())) std::abort();
  for (const auto& r : c->records) {
    auto again = seedtune::DecodeLedgerRecord(seedtune::EncodeLedgerRecord(r));
    if (!again.ok() || again->round != r.round || again->updates.size() != r.updates.size()) std::abort();
  }
  return 0;
}
