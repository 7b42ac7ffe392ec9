// Answers of the gateway decoded: proto3's JSON mapping, so 64-bit numbers
// come as strings, bytes as base64, and fields at their default value (0,
// false, PUT) are left out.
#include "controller/etcd_answers.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "controller/etcd_codec.hpp"

namespace sluice::cluster::etcd_codec {

using nlohmann::json;

namespace {

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

} // namespace

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
