// One event from a JSON object (see the header).
#include "sluice/event_json.hpp"

#include <nlohmann/json.hpp>
#include <optional>

namespace sluice {

result<event> event_from_json(const nlohmann::json& j, const std::string& where,
                              const std::string& default_topic) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument, where + ": " + why);
  };
  if (!j.is_object())
    return bad("is not a JSON object");
  event ev;
  auto text = [&](const char* field, std::string& out,
                  bool required) -> std::optional<error> {
    auto f = j.find(field);
    if (f == j.end()) {
      if (required)
        return error{errc::invalid_argument, where + ": no \"" + field + "\""};
      return std::nullopt;
    }
    if (!f->is_string())
      return error{errc::invalid_argument,
                   where + ": \"" + field + "\" must be a string"};
    out = f->get<std::string>();
    if (required && out.empty())
      return error{errc::invalid_argument,
                   where + ": \"" + field + "\" is empty"};
    return std::nullopt;
  };
  if (auto e = text("topic", ev.topic, default_topic.empty()))
    return *e;
  if (ev.topic.empty())
    ev.topic = default_topic;
  if (auto e = text("key", ev.key, true))
    return *e;
  if (auto e = text("id", ev.id, false))
    return *e;
  if (auto e = text("tenant", ev.tenant, false))
    return *e;
  if (auto p = j.find("payload"); p != j.end())
    ev.payload =
        p->is_string()
            ? p->get<std::string>()
            : p->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (auto a = j.find("attributes"); a != j.end()) {
    if (!a->is_object())
      return bad("\"attributes\" must be an object of strings");
    for (auto& [k, v] : a->items()) {
      if (!v.is_string())
        return bad("attribute \"" + k + "\" must be a string");
      ev.attributes[k] = v.get<std::string>();
    }
  }
  if (auto p = j.find("priority"); p != j.end()) {
    auto name = p->is_string() ? p->get<std::string>() : "";
    if (name == "urgent")
      ev.priority = priority::urgent;
    else if (name != "normal")
      return bad("\"priority\" must be \"urgent\" or \"normal\"");
  }
  return ev;
}

} // namespace sluice
