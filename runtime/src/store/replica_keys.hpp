// Private: how replicated records are keyed and carried: the `replog` and
// `replica_pos` encodings, a shard's record as keyed in a follower's
// `replica` copy (by the fields that identify it among its kind), and the
// conversion between hand-off records and sluice.v1.ReplChange. Pure
// functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/store/cluster_records.hpp"
#include "sluice/store/replication.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice::repl {

/// replog key: shard u32, epoch u64, seq u64.
std::string log_key(std::uint32_t shard, std::uint64_t epoch,
                    std::uint64_t seq);
/// The shard, epoch and seq of a replog key (`record` left empty).
std::optional<replog_entry> parse_log_key(std::string_view k);

/// replica_pos and replog_head values: epoch u64, seq u64.
std::string position_value(repl_position at);
std::optional<repl_position> parse_position(std::string_view v);

/// An outbox entry's origin number, its shard left out: epoch u64, seq
/// u64, index u32, big-endian, so byte order is origin order. Also the
/// value of a source shard's forwarding watermark.
std::string origin_number(const outbox_origin& o);
/// The origin of `shard` that `v` encodes; nullopt unless it is 20 bytes.
std::optional<outbox_origin> parse_origin_number(std::uint32_t shard,
                                                 std::string_view v);

/// The first replica key of `shard`: every key of its copy starts so.
std::string shard_prefix(std::uint32_t shard);

/// The replica key of record `r` of stage `stage` (empty: none): shard,
/// kind, then only the fields that identify it among its kind (a queued
/// event: stage and position; a state: stage and key; ...), so a put and
/// a later delete of one record meet whatever else they carry; an outbox
/// entry's origin last (its put and delete carry the same one).
std::string replica_key(const handoff_record& r, std::string_view stage);

/// A replica entry back as a record and its stage's name: the identity
/// fields from the key, the value, and what the value tells (the key of a
/// queued event, outbox entry or dead letter). False when malformed.
bool parse_replica(std::string_view k, std::string_view v, handoff_record& r,
                   std::string& stage);

/// `r` of stage `stage` as a change to put (or, with `erase`, delete).
void to_change(const handoff_record& r, std::string_view stage, bool erase,
               v1::ReplChange& out);

/// A change of `shard` as a record and its stage's name. False when its
/// kind is unknown or its origin malformed.
bool from_change(const v1::ReplChange& c, std::uint32_t shard,
                 handoff_record& r, std::string& stage);

/// The digest of a shard's records as (replica key, value) pairs in key
/// order: XXH3 over each length-prefixed key and value.
std::uint64_t
digest_of(const std::vector<std::pair<std::string, std::string>>& entries);

/// Whether `r` counts in a shard's digest: every record but a changelog
/// bound. A bound is a floor each side keeps on its own terms (the owner
/// works it out as it sends a snapshot, from how far its whole log was
/// pruned; the follower keeps the last one the owner's pruning of the
/// shard sent), so copies with the same entries may hold different ones.
inline bool digested(const handoff_record& r) {
  return r.what != handoff_record::kind::changelog_bound;
}

/// The key of a sluice.v1.DeadLetter, when it has one: dead letters of
/// keys belong to the key's shard; those of input that never became an
/// event (no key) to no shard.
std::optional<std::string> dead_letter_key_of(std::string_view bytes);

} // namespace sluice::repl
