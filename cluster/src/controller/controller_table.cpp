// Key layout and JSON values of the controller's table. JSON rather than
// protobuf so that `etcdctl get --prefix /sluice/` shows an operator the
// table as it is; values are small and written rarely.
#include "controller/controller_table.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sluice/placement.hpp"

namespace sluice::cluster {

using nlohmann::json;

namespace {

constexpr int shard_digits = 4; // shard_count - 1 = 1023
static_assert(shard_count <= 10000);

result<std::vector<std::string>> names(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_array())
    return fail(errc::corrupt, std::string("'") + field + "' is not a list");
  std::vector<std::string> out;
  for (const auto& name : *it) {
    if (!name.is_string())
      return fail(errc::corrupt,
                  std::string("'") + field + "' holds a non-string");
    out.push_back(name.get<std::string>());
  }
  return out;
}

result<void> unique_valid(const char* what,
                          const std::vector<std::string>& list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto ok = controller_keys::check_name(what, list[i]); !ok)
      return ok;
    auto before = list.begin() + static_cast<std::ptrdiff_t>(i);
    if (std::find(list.begin(), before, list[i]) != before)
      return fail(errc::corrupt,
                  std::string(what) + " '" + list[i] + "' appears twice");
  }
  return {};
}

} // namespace

result<void> controller_keys::check_name(std::string_view what,
                                         std::string_view name) {
  auto bad = [&](const char* why) {
    return fail(errc::invalid_argument,
                std::string(what) + " '" + std::string(name) + "' " + why);
  };
  if (name.empty())
    return fail(errc::invalid_argument, std::string(what) + " is empty");
  if (name.size() > 200)
    return bad("is longer than 200 characters");
  for (char c : name)
    if (c == '/' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return bad("has a '/', a space or a control character");
  return {};
}

result<controller_keys> controller_keys::make(std::string cluster) {
  if (auto ok = check_name("cluster name", cluster); !ok)
    return ok.error();
  return controller_keys{"/sluice/" + cluster + "/"};
}

std::string controller_keys::shard(std::uint32_t shard) const {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%0*u", shard_digits, shard);
  return shards_prefix() + digits;
}

result<std::uint32_t> controller_keys::shard_of(std::string_view key) const {
  auto prefix = shards_prefix();
  auto bad = fail(errc::corrupt,
                  "key '" + std::string(key) + "' is not " + prefix + "NNNN");
  if (!key.starts_with(prefix))
    return bad;
  auto digits = key.substr(prefix.size());
  std::uint32_t n = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.size() != shard_digits || ec != std::errc{}
      || end != digits.data() + digits.size())
    return bad;
  if (n >= shard_count)
    return fail(errc::corrupt, "key '" + std::string(key) + "': shard "
                                   + std::to_string(n) + " is not below "
                                   + std::to_string(shard_count));
  return n;
}

result<std::string> controller_keys::member_of(std::string_view key) const {
  auto prefix = members_prefix();
  if (!key.starts_with(prefix))
    return fail(errc::corrupt,
                "key '" + std::string(key) + "' is not under " + prefix);
  std::string name(key.substr(prefix.size()));
  if (auto ok = check_name("member name", name); !ok)
    return fail(errc::corrupt, ok.error().message);
  return name;
}

bool listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

result<void> check(const shard_assignment& a) {
  if (a.epoch == 0)
    return fail(errc::corrupt, "epoch 0 (the first is 1)");
  if (auto ok = unique_valid("replica", a.replicas); !ok)
    return fail(errc::corrupt, ok.error().message);
  if (auto ok = unique_valid("isr member", a.isr); !ok)
    return fail(errc::corrupt, ok.error().message);
  for (const auto& m : a.isr)
    if (!listed(a.replicas, m))
      return fail(errc::corrupt, "isr member '" + m + "' is not a replica");
  if (!a.owner.empty() && !listed(a.isr, a.owner))
    return fail(errc::corrupt, "owner '" + a.owner + "' is not in the isr");
  return {};
}

std::size_t isr_floor(std::size_t min_insync, std::size_t replicas) {
  return std::max<std::size_t>(1, std::min(min_insync, replicas));
}

std::string encode(const shard_assignment& a) {
  return json{{"epoch", a.epoch},
              {"owner", a.owner},
              {"replicas", a.replicas},
              {"isr", a.isr}}
      .dump();
}

result<shard_assignment> decode_assignment(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(errc::corrupt, "not a JSON object");
  auto epoch = j.find("epoch");
  auto owner = j.find("owner");
  if (epoch == j.end() || !epoch->is_number_unsigned())
    return fail(errc::corrupt, "'epoch' is not a positive integer");
  if (owner == j.end() || !owner->is_string())
    return fail(errc::corrupt, "'owner' is not a string");
  auto replicas = names(j, "replicas");
  if (!replicas)
    return replicas.error();
  auto isr = names(j, "isr");
  if (!isr)
    return isr.error();
  shard_assignment a{epoch->get<std::uint64_t>(), owner->get<std::string>(),
                     std::move(*replicas), std::move(*isr)};
  if (auto ok = check(a); !ok)
    return ok.error();
  return a;
}

std::string encode(const member_record& m) {
  return json{{"address", m.address},
              {"incarnation", m.incarnation},
              {"hosts_shards", m.hosts_shards}}
      .dump();
}

result<member_record> decode_member(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(errc::corrupt, "not a JSON object");
  auto address = j.find("address");
  auto incarnation = j.find("incarnation");
  if (address == j.end() || !address->is_string())
    return fail(errc::corrupt, "'address' is not a string");
  if (incarnation == j.end() || !incarnation->is_number_unsigned())
    return fail(errc::corrupt, "'incarnation' is not a positive integer");
  bool hosts_shards = true; // records written before the field existed
  if (auto hosts = j.find("hosts_shards"); hosts != j.end()) {
    if (!hosts->is_boolean())
      return fail(errc::corrupt, "'hosts_shards' is not true or false");
    hosts_shards = hosts->get<bool>();
  }
  return member_record{address->get<std::string>(),
                       incarnation->get<std::uint64_t>(), hosts_shards};
}

result<shard_table> read_shard_table(const controller_keys& keys,
                                     const etcd_range& range) {
  shard_table table;
  for (const auto& kv : range.kvs) {
    auto shard = keys.shard_of(kv.key);
    if (!shard)
      return shard.error();
    auto value = decode_assignment(kv.value);
    if (!value)
      return value.error().within(kv.key);
    table[*shard] = shard_entry{std::move(*value), kv.mod_revision};
  }
  return table;
}

result<std::map<std::string, member_record>>
read_members(const controller_keys& keys, const etcd_range& range) {
  std::map<std::string, member_record> members;
  for (const auto& kv : range.kvs) {
    auto name = keys.member_of(kv.key);
    if (!name)
      return name.error();
    auto value = decode_member(kv.value);
    if (!value)
      return value.error().within(kv.key);
    members[*name] = std::move(*value);
  }
  return members;
}

} // namespace sluice::cluster
