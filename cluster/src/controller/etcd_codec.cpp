// The gateway's JSON: proto3's mapping, so 64-bit numbers come as strings,
// bytes as base64, and fields at their default value (0, false, PUT) are
// left out of answers.
#include "controller/etcd_codec.hpp"

#include <array>
#include <charconv>

#include <nlohmann/json.hpp>

namespace sluice::cluster::etcd_codec {

using nlohmann::json;

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string i64(std::int64_t n) {
  return std::to_string(n);
}

/// An int64 field: absent is 0 (proto3 leaves defaults out), a string of
/// digits (the mapping of int64) or a JSON integer.
result<std::int64_t> number(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null())
    return std::int64_t{0};
  if (it->is_number_integer())
    return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc{} && end == text.data() + text.size() && !text.empty())
      return n;
  }
  return fail(errc::parse, std::string("field '") + field
                               + "' is not a 64-bit integer: " + it->dump());
}

/// A bytes field, base64 on the wire; absent is empty.
result<std::string> bytes(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null())
    return std::string{};
  if (!it->is_string())
    return fail(errc::parse,
                std::string("field '") + field + "' is not a base64 string");
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded)
    return decoded.error().within(std::string("field '") + field + "'");
  return decoded;
}

bool flag(const json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

result<std::int64_t> header_revision(const json& answer) {
  auto it = answer.find("header");
  if (it == answer.end() || !it->is_object())
    return fail(errc::parse, "answer has no header");
  return number(*it, "revision");
}

result<etcd_kv> decode_kv(const json& j) {
  if (!j.is_object())
    return fail(errc::parse, "a key-value is not an object");
  etcd_kv kv;
  auto key = bytes(j, "key");
  auto value = bytes(j, "value");
  auto created = number(j, "create_revision");
  auto modified = number(j, "mod_revision");
  auto version = number(j, "version");
  auto lease = number(j, "lease");
  for (const auto* r : {&created, &modified, &version, &lease})
    if (!*r)
      return r->error();
  if (!key)
    return key.error();
  if (!value)
    return value.error();
  return etcd_kv{std::move(*key), std::move(*value), *created,
                 *modified,       *version,          *lease};
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

result<json> parse_answer(int http_status, std::string_view body) {
  auto start = [&] {
    auto text = std::string(body.substr(0, 120));
    return "'" + text + (body.size() > 120 ? "...'" : "'");
  };
  auto parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object())
    return fail(errc::parse, "answer (HTTP " + std::to_string(http_status)
                                 + ") is not a JSON object: " + start());
  if (auto it = parsed.find("result"); it != parsed.end() && it->is_object())
    parsed = json(*it);
  if (auto it = parsed.find("error"); it != parsed.end()) {
    // Unary answers: {"error": "...", "message": "...", "code": N}; streamed
    // ones: {"error": {"grpc_code": N, "message": "..."}}.
    const json& detail = it->is_object() ? *it : parsed;
    std::int64_t code = 0;
    std::string message = it->is_string() ? it->get<std::string>() : "";
    if (auto c = detail.find(it->is_object() ? "grpc_code" : "code");
        c != detail.end() && c->is_number_integer())
      code = c->get<std::int64_t>();
    if (auto m = detail.find("message"); m != detail.end() && m->is_string())
      message = m->get<std::string>();
    auto family = code == 3                 ? errc::invalid_argument
                  : code == 5 || code == 11 ? errc::not_found
                                            : errc::unavailable;
    return fail(family, "etcd says: " + message + " (code "
                            + std::to_string(code) + ")");
  }
  if (http_status != 200)
    return fail(errc::parse, "HTTP " + std::to_string(http_status)
                                 + " without an etcd error: " + start());
  return parsed;
}

result<std::int64_t> decode_revision(const json& answer) {
  return header_revision(answer);
}

result<std::int64_t> decode_deleted(const json& answer) {
  return number(answer, "deleted");
}

result<etcd_range> decode_range(const json& answer) {
  auto revision = header_revision(answer);
  if (!revision)
    return revision.error();
  etcd_range out{*revision, {}};
  if (auto it = answer.find("kvs"); it != answer.end() && !it->is_null()) {
    if (!it->is_array())
      return fail(errc::parse, "field 'kvs' is not an array");
    for (const auto& j : *it) {
      auto kv = decode_kv(j);
      if (!kv)
        return kv.error();
      out.kvs.push_back(std::move(*kv));
    }
  }
  return out;
}

result<etcd_txn_result> decode_txn(const json& answer) {
  auto revision = header_revision(answer);
  if (!revision)
    return revision.error();
  etcd_txn_result out{flag(answer, "succeeded"), *revision, {}};
  auto it = answer.find("responses");
  if (it == answer.end() || it->is_null())
    return out;
  if (!it->is_array())
    return fail(errc::parse, "field 'responses' is not an array");
  for (const auto& response : *it)
    if (auto r = response.find("response_range"); r != response.end()) {
      auto range = decode_range(*r);
      if (!range)
        return range.error().within("response_range");
      out.ranges.push_back(std::move(*range));
    }
  return out;
}

result<etcd_lease> decode_grant(const json& answer) {
  auto id = number(answer, "ID");
  auto ttl = number(answer, "TTL");
  if (!id)
    return id.error();
  if (!ttl)
    return ttl.error();
  if (*id == 0 || *ttl <= 0)
    return fail(errc::parse, "the grant has no lease ID or TTL: "
                                 + answer.dump().substr(0, 120));
  return etcd_lease{*id, std::chrono::seconds(*ttl)};
}

result<std::chrono::seconds> decode_keepalive(const json& answer,
                                              std::int64_t lease) {
  auto ttl = number(answer, "TTL");
  if (!ttl)
    return ttl.error();
  if (*ttl <= 0)
    return fail(errc::not_found, "lease " + std::to_string(lease)
                                     + " has expired or was revoked");
  return std::chrono::seconds(*ttl);
}

result<watch_message> decode_watch(const json& answer) {
  watch_message out;
  out.created = flag(answer, "created");
  out.canceled = flag(answer, "canceled");
  auto compact = number(answer, "compact_revision");
  if (!compact)
    return compact.error();
  out.compact_revision = *compact;
  if (auto it = answer.find("cancel_reason");
      it != answer.end() && it->is_string())
    out.cancel_reason = it->get<std::string>();
  if (auto it = answer.find("header"); it != answer.end() && it->is_object()) {
    auto revision = number(*it, "revision");
    if (!revision)
      return revision.error();
    out.revision = *revision;
  }
  auto events = answer.find("events");
  if (events == answer.end() || events->is_null())
    return out;
  if (!events->is_array())
    return fail(errc::parse, "field 'events' is not an array");
  for (const auto& e : *events) {
    if (!e.is_object())
      return fail(errc::parse, "an event is not an object");
    auto type = e.find("type");
    bool put = type == e.end() || *type == "PUT";
    if (!put && *type != "DELETE")
      return fail(errc::parse, "unknown event type " + type->dump());
    auto kv = decode_kv(e.value("kv", json::object()));
    if (!kv)
      return kv.error().within("event");
    out.events.push_back({put ? etcd_event::kind::put : etcd_event::kind::erase,
                          std::move(*kv)});
  }
  return out;
}

} // namespace sluice::cluster::etcd_codec
