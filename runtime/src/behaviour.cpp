// Default behaviour hooks and JSON string quoting.
#include "sluice/behaviour.hpp"

#include <cstdio>

namespace sluice {

result<void> behaviour::configure(const stage_settings& settings) {
  return settings.only({});
}

bool behaviour::reconcile(context&) {
  return false;
}

void behaviour::on_timer(context& ctx, const event& ev) {
  throw permanent_error("stage " + ctx.stage() + " got timer '" + ev.timer
                        + "' but its behaviour has no on_timer()");
}

std::string behaviour::state_to_json(const std::string& state) const {
  return json_quote(state);
}

std::string json_quote(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 2);
  out.push_back('"');
  for (unsigned char c : bytes) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  out.push_back('"');
  return out;
}

} // namespace sluice
