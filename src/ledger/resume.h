// The one resume check of every ledger writer (train, simulate, the
// coordinator): the ledger must record the run about to continue, field by
// field, and be appendable (only a torn tail may be dropped).
#pragma once

#include <string>

#include "core/status.h"
#include "ledger/ledger.h"

namespace seedtune {

// FailedPrecondition naming the first field where `recorded` (the ledger's
// header) and `expected` (this run's) differ, with both values: algorithm,
// run seed, z distribution, base model (when both know it), then every
// hyperparameter key (a key only one of them has counts as a difference).
Status CheckSameRun(const LedgerHeader& recorded, const LedgerHeader& expected);

// Reads `path` for a resume of the run `expected` describes: CheckSameRun and
// CheckAppendable (the reader holds records to rounds 1, 2, 3, ...). The error
// names the ledger. A torn
// tail is reported in `contents.tail_problem` for the caller to log.
StatusOr<LedgerContents> ReadLedgerForResume(const std::string& path, const LedgerHeader& expected);

}  // namespace seedtune
