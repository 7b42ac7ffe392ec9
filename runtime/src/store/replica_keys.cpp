// Keys and conversions of replicated records: the replog key, positions,
// the replica key of a shard's record (by its identity fields) and
// ReplChange <-> hand-off record. Pure functions.
#include "replica_keys.hpp"

#include <xxhash.h>

#include <memory>

#include "changelog_codec.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/placement.hpp"

namespace sluice::repl {

namespace {

using kind = handoff_record::kind;

bool has_stage(kind k) {
  return k != kind::status && k != kind::inbox;
}
bool has_key(kind k) {
  return k == kind::state || k == kind::status || k == kind::retry
         || k == kind::timer;
}
bool has_priority(kind k) {
  return k == kind::queued || k == kind::outbox || k == kind::inbox;
}
bool has_seq(kind k) {
  return k == kind::queued || k == kind::outbox || k == kind::dead_letter
         || k == kind::changelog; // a changelog entry's: its shard offset
}
bool has_name(kind k) {
  return k == kind::timer || k == kind::inbox;
}

void put_sized(std::string& out, std::string_view s) {
  keys::put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

std::optional<std::string_view> get_sized(std::string_view in,
                                          std::size_t& at) {
  auto n = keys::get_u32(in, at);
  if (!n || in.size() - at - 4 < *n)
    return std::nullopt;
  auto out = in.substr(at + 4, *n);
  at += 4 + *n;
  return out;
}

priority priority_of_byte(std::uint8_t b) {
  return b == 0 ? priority::urgent : priority::normal;
}

} // namespace

std::string log_key(std::uint32_t shard, std::uint64_t epoch,
                    std::uint64_t seq) {
  std::string k;
  keys::put_u32(k, shard);
  keys::put_u64(k, epoch);
  keys::put_u64(k, seq);
  return k;
}

std::optional<replog_entry> parse_log_key(std::string_view k) {
  auto shard = keys::get_u32(k);
  auto epoch = keys::get_u64(k, 4);
  auto seq = keys::get_u64(k, 12);
  if (k.size() != 20 || !shard || !epoch || !seq)
    return std::nullopt;
  return replog_entry{*shard, *epoch, *seq, {}};
}

std::string position_value(repl_position at) {
  std::string v;
  keys::put_u64(v, at.epoch);
  keys::put_u64(v, at.seq);
  return v;
}

std::optional<repl_position> parse_position(std::string_view v) {
  auto epoch = keys::get_u64(v);
  auto seq = keys::get_u64(v, 8);
  if (v.size() != 16 || !epoch || !seq)
    return std::nullopt;
  return repl_position{*epoch, *seq};
}

std::string origin_number(const outbox_origin& o) {
  std::string v;
  keys::put_u64(v, o.epoch);
  keys::put_u64(v, o.seq);
  keys::put_u32(v, o.index);
  return v;
}

std::optional<outbox_origin> parse_origin_number(std::uint32_t shard,
                                                 std::string_view v) {
  auto epoch = keys::get_u64(v);
  auto seq = keys::get_u64(v, 8);
  auto index = keys::get_u32(v, 16);
  if (v.size() != 20 || !epoch || !seq || !index)
    return std::nullopt;
  return outbox_origin{shard, *epoch, *seq, *index};
}

std::string shard_prefix(std::uint32_t shard) {
  std::string k;
  keys::put_u32(k, shard);
  return k;
}

std::string replica_key(const handoff_record& r, std::string_view stage) {
  auto k = shard_prefix(r.shard);
  k.push_back(static_cast<char>(r.what));
  put_sized(k, has_stage(r.what) ? stage : std::string_view{});
  put_sized(k, has_key(r.what) ? std::string_view{r.key} : std::string_view{});
  char prio = 0;
  if (has_priority(r.what))
    prio = static_cast<char>(r.pos.priority);
  k.push_back(prio);
  keys::put_u64(k, has_seq(r.what) ? r.pos.seq : 0);
  if (has_name(r.what))
    k += r.name;
  else if (r.what == kind::outbox && r.origin)
    k += origin_number(*r.origin);
  return k;
}

bool parse_replica(std::string_view k, std::string_view v, handoff_record& r,
                   std::string& stage) {
  auto shard = keys::get_u32(k);
  if (!shard || k.size() < 5
      || static_cast<std::uint8_t>(k[4])
             > static_cast<std::uint8_t>(kind::changelog_bound))
    return false;
  r = handoff_record{};
  r.shard = *shard;
  r.what = static_cast<kind>(k[4]);
  std::size_t at = 5;
  auto st = get_sized(k, at);
  auto key = st ? get_sized(k, at) : std::nullopt;
  if (!key || k.size() < at + 9)
    return false;
  stage = std::string(*st);
  r.key = std::string(*key);
  r.pos.priority = priority_of_byte(static_cast<std::uint8_t>(k[at]));
  r.pos.seq = keys::get_u64(k, at + 1).value_or(0);
  r.name = std::string(k.substr(at + 9));
  r.value = std::string(v);
  if (r.what == kind::outbox && !r.name.empty()) {
    r.origin = parse_origin_number(r.shard, r.name);
    if (!r.origin)
      return false;
    r.name.clear();
  }
  if (r.what == kind::queued || r.what == kind::outbox) {
    if (auto ev = decode_event(v, "replica"))
      r.key = std::move(ev->key);
  } else if (r.what == kind::dead_letter) {
    r.key = dead_letter_key_of(v).value_or("");
  } else if (r.what == kind::changelog) {
    r.key = std::string(changelog_codec::entry_key(v).value_or(""));
  }
  return true;
}

void to_change(const handoff_record& r, std::string_view stage, bool erase,
               v1::ReplChange& out) {
  out.set_kind(static_cast<v1::ReplKind>(r.what));
  out.set_erase(erase);
  out.set_stage(std::string(stage));
  out.set_key(r.key);
  out.set_name(r.name);
  out.set_priority(static_cast<std::uint32_t>(r.pos.priority));
  out.set_seq(r.pos.seq);
  if (r.origin)
    out.set_origin(origin_number(*r.origin));
  if (!erase)
    out.set_value(r.value);
}

bool from_change(const v1::ReplChange& c, std::uint32_t shard,
                 handoff_record& r, std::string& stage) {
  if (c.kind() < 0 || c.kind() > static_cast<int>(kind::changelog_bound))
    return false;
  r = handoff_record{};
  r.what = static_cast<kind>(c.kind());
  r.shard = shard;
  r.key = c.key();
  r.name = c.name();
  r.pos = {c.priority() == 0 ? priority::urgent : priority::normal, c.seq()};
  r.value = c.value();
  stage = c.stage();
  if (r.what == kind::outbox && !c.origin().empty()) {
    r.origin = parse_origin_number(shard, c.origin());
    if (!r.origin)
      return false;
  }
  return true;
}

std::uint64_t
digest_of(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st{
      XXH3_createState(), &XXH3_freeState};
  XXH3_64bits_reset(st.get());
  std::string len;
  for (auto& [k, v] : entries) {
    for (auto* part : {&k, &v}) {
      len.clear();
      keys::put_u32(len, static_cast<std::uint32_t>(part->size()));
      XXH3_64bits_update(st.get(), len.data(), len.size());
      XXH3_64bits_update(st.get(), part->data(), part->size());
    }
  }
  return XXH3_64bits_digest(st.get());
}

std::optional<std::string> dead_letter_key_of(std::string_view bytes) {
  v1::DeadLetter dl;
  if (!dl.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))
      || dl.key().empty())
    return std::nullopt;
  return dl.key();
}

} // namespace sluice::repl
