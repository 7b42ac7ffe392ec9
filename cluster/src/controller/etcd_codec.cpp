// Request bodies in the gateway's JSON: proto3's mapping, so 64-bit numbers
// go as strings and bytes as base64.
#include "controller/etcd_codec.hpp"

#include <array>

#include <nlohmann/json.hpp>

namespace sluice::cluster::etcd_codec {

using nlohmann::json;

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string i64(std::int64_t n) {
  return std::to_string(n);
}

json op_json(const etcd_op& op) {
  json body{{"key", base64_encode(op.key)}};
  switch (op.what) {
  case etcd_op::kind::put:
    body["value"] = base64_encode(op.value);
    if (op.lease != 0)
      body["lease"] = i64(op.lease);
    return {{"request_put", body}};
  case etcd_op::kind::erase:
    if (op.prefix)
      body["range_end"] = base64_encode(prefix_end(op.key));
    return {{"request_delete_range", body}};
  case etcd_op::kind::range:
    if (op.prefix)
      body["range_end"] = base64_encode(prefix_end(op.key));
    return {{"request_range", body}};
  }
  return body;
}

json compare_json(const etcd_compare& c) {
  static constexpr std::array<const char*, 4> targets{"VALUE", "MOD", "CREATE",
                                                      "VERSION"};
  static constexpr std::array<const char*, 4> relations{"EQUAL", "NOT_EQUAL",
                                                        "GREATER", "LESS"};
  json body{{"key", base64_encode(c.key)},
            {"target", targets[static_cast<std::size_t>(c.what)]},
            {"result", relations[static_cast<std::size_t>(c.is)]}};
  switch (c.what) {
  case etcd_compare::target::value:
    body["value"] = base64_encode(c.value);
    break;
  case etcd_compare::target::mod_revision:
    body["mod_revision"] = i64(c.number);
    break;
  case etcd_compare::target::create_revision:
    body["create_revision"] = i64(c.number);
    break;
  case etcd_compare::target::version:
    body["version"] = i64(c.number);
    break;
  }
  return body;
}

} // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16)
             | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8)
             | std::uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out += alphabet[(n >> shift) & 63];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (rest == 2)
      n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += rest == 2 ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

result<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  if (text.size() % 4 == 1)
    return fail(errc::parse,
                "base64 of impossible length " + std::to_string(text.size()));
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto pos = alphabet.find(text[i]);
    if (pos == std::string_view::npos)
      return fail(errc::parse, "not base64 at offset " + std::to_string(i)
                                   + ": '" + std::string(1, text[i]) + "'");
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_request(std::string_view key, bool prefix,
                          std::int64_t revision) {
  json body{{"key", base64_encode(key)}};
  if (prefix)
    body["range_end"] = base64_encode(prefix_end(key));
  if (revision > 0)
    body["revision"] = i64(revision);
  return body.dump();
}

std::string put_request(std::string_view key, std::string_view value,
                        std::int64_t lease) {
  return op_json(etcd_op::put(std::string(key), std::string(value), lease))
      .at("request_put")
      .dump();
}

std::string erase_request(std::string_view key, bool prefix) {
  auto op = etcd_op::erase(std::string(key));
  op.prefix = prefix;
  return op_json(op).at("request_delete_range").dump();
}

std::string txn_request(const etcd_txn& txn) {
  json compare = json::array(), success = json::array(),
       failure = json::array();
  for (const auto& c : txn.compare)
    compare.push_back(compare_json(c));
  for (const auto& op : txn.success)
    success.push_back(op_json(op));
  for (const auto& op : txn.failure)
    failure.push_back(op_json(op));
  return json{{"compare", compare}, {"success", success}, {"failure", failure}}
      .dump();
}

std::string watch_request(std::string_view prefix,
                          std::int64_t start_revision) {
  json create{{"key", base64_encode(prefix)},
              {"range_end", base64_encode(prefix_end(prefix))},
              {"progress_notify", true}};
  if (start_revision > 0)
    create["start_revision"] = i64(start_revision);
  return json{{"create_request", create}}.dump();
}

std::string lease_request(std::int64_t lease) {
  return json{{"ID", i64(lease)}}.dump();
}

std::string grant_request(std::chrono::seconds ttl) {
  return json{{"TTL", i64(ttl.count())}}.dump();
}

std::string compact_request(std::int64_t revision) {
  return json{{"revision", i64(revision)}}.dump();
}

} // namespace sluice::cluster::etcd_codec
