// The pure half of `seedtune peer` (proto/seedtune/v1/peer.proto): the run
// configuration every peer agrees on, the checks every received peer message
// goes through, and the membership rule. No sockets here, so all of it is
// unit-tested directly (tests/net/peer_test.cc).
//
// Membership rule. Iteration 0 has one member, the founder (the peer started
// without --bootstrap); it contributes no bytes, only the joins it accepted
// before iteration 1. The members of t + 1 are the members of t
//   - minus every member whose PeerBytes for t says `last`,
//   - plus every join carried in any member's PeerBytes for t (ascending
//     announcer, then in order), unless that id is or ever was a member
//     (the first announcement of an id wins; later ones are ignored).
// Every member sees the same PeerBytes for t, so every member derives the
// same members of t + 1, with no further messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "fed/federated_data.h"
#include "fed/onebyte.h"
#include "seedtune/v1/peer.pb.h"

namespace seedtune {

inline constexpr uint32_t kPeerProtocolVersion = 1;
inline constexpr int kMaxPeerRequestBytes = 64 << 10;     // Hello, GetBytes, GetHistory requests
inline constexpr int kMaxPeerResponseBytes = 16 << 20;    // GetHistory pages are the largest
inline constexpr size_t kHistoryBudgetBytes = 4u << 20;   // entries per GetHistory reply
inline constexpr size_t kMaxAddressLength = 256;

namespace pwire = ::seedtune::v1;

// What every peer of a run agrees on (the wire's PeerRunConfig).
struct PeerRunSpec {
  OneByteOptions onebyte;      // iterations, samples, batch, lr, eps, seed, dist (join/leave unused)
  FederatedDataOptions data;   // task, partition, clients, train_n, ...; data.seed = onebyte.seed
  std::string base_fingerprint;
  int founder_id = 0;
  std::string founder_address;
};

Status ValidatePeerRunSpec(const PeerRunSpec& spec);
void ToWire(const PeerRunSpec& spec, pwire::PeerRunConfig* out);
StatusOr<PeerRunSpec> FromWire(const pwire::PeerRunConfig& config);

// FailedPrecondition unless `version` is the one this build speaks.
Status CheckPeerProtocolVersion(uint32_t version);

// host:port, non-empty, printable, at most kMaxAddressLength characters.
Status CheckPeerAddress(const std::string& address);

// A peer's bytes for `iteration` as received from `machine`: right
// iteration and sender, exactly `samples` bytes (none at iteration 0), joins
// with ids in [0, clients) and valid addresses.
Status CheckPeerBytes(const pwire::PeerBytes& bytes, int64_t iteration, int machine, int samples, int clients);

struct PeerMember {
  int id = 0;
  std::string address;
  int64_t join_iteration = 0;
  int64_t last_iteration = 0;  // 0: none announced
};

// The members of consecutive iterations (the rule above).
class PeerMembership {
 public:
  // Iteration 0: the founder alone.
  PeerMembership(int founder_id, std::string founder_address);

  int64_t iteration() const { return iteration_; }
  // Members of iteration(), ascending id.
  std::vector<int> ids() const;
  const std::map<int, PeerMember>& members() const { return current_; }
  bool IsMember(int id) const { return current_.count(id) != 0; }
  // Is or was a member, at any iteration so far.
  bool EverMember(int id) const { return ever_.count(id) != 0; }
  const PeerMember* Find(int id) const;

  // Given every member's PeerBytes of iteration(), moves to iteration() + 1.
  // Fails unless `contributions` name exactly the current members.
  Status Advance(const std::vector<pwire::PeerBytes>& contributions);

 private:
  int64_t iteration_ = 0;
  std::map<int, PeerMember> current_;
  std::map<int, PeerMember> ever_;  // everyone who was a member (for reporting and id reuse)
};

// The canonical records of one iteration (seeds from (run seed, t, machine, sample)).
std::vector<OneByteRecord> PeerRecords(const std::vector<pwire::PeerBytes>& contributions, uint64_t run_seed);

}  // namespace seedtune
