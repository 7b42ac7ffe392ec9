// The published admin actor and HOST:PORT parsing.
#include "admin_actor.hpp"

#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>

#include <spdlog/spdlog.h>

#include "sluice/admin.hpp"
#include "sluice/audit.hpp"
#include "sluice/transport.hpp"
#include "sluice/v1/admin.pb.h"

namespace sluice {

namespace {

/// Compares without leaking where the first difference is.
bool same_token(const std::string& given, const std::string& want) {
  if (want.empty() || given.size() != want.size())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ want[i]);
  return diff == 0;
}

caf::behavior
admin_actor(caf::event_based_actor* self, node* n, std::string token,
            [[maybe_unused]] std::shared_ptr<spdlog::logger> log) {
  return {
      [=](admin_atom, const std::string& bytes) -> std::string {
        auto sender = self->current_sender();
        audit_actor who{"console", sender ? "the console on CAF node "
                                                + caf::to_string(sender->node())
                                          : "the console"};
        v1::AdminRequest rq;
        v1::AdminResponse rs;
        if (!rq.ParseFromString(bytes)) {
          rs.set_code(v1::AdminResponse::BAD_USAGE);
          rs.set_error("malformed admin request ("
                       + std::to_string(bytes.size())
                       + " bytes are not a sluice.v1.AdminRequest)");
          return rs.SerializeAsString();
        }
        if (!same_token(rq.token(), token)) {
          who.who = "anonymous";
          audit_refused(who, "console command '" + rq.command() + "'",
                        rq.token().empty() ? "no token" : "wrong token");
          rs.set_code(v1::AdminResponse::REFUSED);
          rs.set_error("refused: wrong or missing token (set SLUICE_TOKEN or "
                       "--token-file to the node's token)");
          return rs.SerializeAsString();
        }
        std::vector<std::string> args(rq.args().begin(), rq.args().end());
        auto a = n->admin(rq.command(), args);
        if (admin_changes_node(rq.command(), args))
          audit_action(who,
                       "console command '"
                           + admin_command_line(rq.command(), args) + "'",
                       a.code == admin_code::ok ? "done"
                                                : "failed: " + a.error);
        rs.set_code(static_cast<v1::AdminResponse::Code>(a.code));
        rs.set_json(std::move(a.json));
        rs.set_error(std::move(a.error));
        return rs.SerializeAsString();
      },
  };
}

} // namespace

result<std::pair<std::string, std::uint16_t>>
parse_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return fail(errc::invalid_argument,
                "'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:7400)");
  auto port_text = text.substr(colon + 1);
  if (port_text.find_first_not_of("0123456789") != std::string::npos
      || port_text.size() > 5 || std::stoul(port_text) > 65535)
    return fail(errc::invalid_argument,
                "'" + text + "': the port must be a number from 0 to 65535");
  return std::make_pair(text.substr(0, colon),
                        static_cast<std::uint16_t>(std::stoul(port_text)));
}

caf::actor spawn_admin(caf::actor_system& sys, node& n,
                       const std::string& token,
                       std::shared_ptr<spdlog::logger> log) {
  return sys.spawn<caf::detached>(admin_actor, &n, token, std::move(log));
}

result<std::uint16_t> publish_admin(caf::actor_system& sys, node& n,
                                    const std::string& listen,
                                    const std::string& token,
                                    std::shared_ptr<spdlog::logger> log,
                                    caf::actor& out) {
  auto hp = parse_host_port(listen);
  if (!hp)
    return fail(errc::invalid_argument, "--listen: " + hp.error().message);
  out = spawn_admin(sys, n, token, log);
  auto port = publish_actor(sys, out, hp->second, hp->first);
  if (!port)
    return fail(errc::unavailable,
                "cannot listen on " + listen + ": " + sys.render(port.error()));
  log->info("console access on {}:{}{}", hp->first, *port,
            uses_tls(sys) ? " (mutual TLS)" : "");
  return *port;
}

} // namespace sluice
