// The re-keying test pipeline's behaviours: rekey.route emits each package
// event under a bucket key (so most land on a shard of another member), and
// rekey.tally counts per bucket the events and the package keys it saw, so
// an event handled twice shows as a repeated key. Stateless classes; one
// instance per key actor.
#pragma once

#include <string>

#include "rekey/rekey.pb.h"
#include "sluice/typed_behaviour.hpp"

namespace rekey {

/// The bucket key of a package key: "bucket/NN", NN the xxh3 of the key
/// modulo `buckets`, two decimal digits.
std::string bucket_of(const std::string& key);

/// Buckets a key may go to: enough that the buckets' shards spread over
/// every member, few enough that each bucket sees many events.
inline constexpr unsigned buckets = 64;

/// rekey.route: per package, notes its bucket and emits the package key as
/// the payload of an event under the bucket key on topic `bucketed`.
class route_behaviour final : public sluice::typed_behaviour<Routed> {
public:
  static constexpr const char* name = "rekey.route";
  void on_event(sluice::context& ctx, const sluice::event& ev,
                Routed& r) override;
};

/// rekey.tally: per bucket, counts the events and keeps the package keys
/// (their payloads) sorted, each once; a key seen before counts in
/// `repeated_keys`. An empty payload fails permanently.
class tally_behaviour final : public sluice::typed_behaviour<BucketTally> {
public:
  static constexpr const char* name = "rekey.tally";
  void on_event(sluice::context& ctx, const sluice::event& ev,
                BucketTally& t) override;
};

} // namespace rekey
