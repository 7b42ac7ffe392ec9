// admin_client: its own small actor system with the middleman, a remote
// handle to the node's admin actor, and blocking requests.
#include "sluice/admin_client.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "admin_actor.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/transport.hpp"
#include "sluice/v1/admin.pb.h"

namespace sluice {

struct admin_client::impl {
  std::string address;
  std::string token;
  std::shared_ptr<tls_files> tls; ///< outlives the actor system
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor remote;
};

admin_client::admin_client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
admin_client::~admin_client() = default;

const std::string& admin_client::address() const noexcept {
  return impl_->address;
}

result<std::unique_ptr<admin_client>>
admin_client::connect(const std::string& host_port, std::string token,
                      std::shared_ptr<const tls::identity> tls) {
  auto hp = parse_host_port(host_port);
  if (!hp)
    return hp.error();
  auto p = std::make_unique<impl>();
  p->address = host_port;
  p->token = std::move(token);
  p->cfg = std::make_unique<caf::actor_system_config>();
  auto files = configure_transport(*p->cfg, tls.get());
  if (!files)
    return files.error();
  p->tls = std::move(*files);
  add_sluice_error_category(*p->cfg);
  p->cfg->set("scheduler.max-threads", 1);
  p->cfg->set("middleman.heartbeat-interval", caf::timespan{500000000});
  p->cfg->set("middleman.connection-timeout", caf::timespan{5000000000});
  p->sys = std::make_unique<caf::actor_system>(*p->cfg);
  auto remote = remote_actor_at(*p->sys, hp->first, hp->second);
  if (!remote) {
    auto why = p->sys->render(remote.error());
    // Refused during the handshake: most likely TLS on one side only, or
    // certificates from different CAs.
    bool handshake = remote.error() == caf::sec::disconnect_during_handshake;
    return fail(errc::unavailable,
                "no Sluice node answers at " + host_port + ": " + why
                    + (!handshake ? ""
                       : tls ? " (over TLS; a node without TLS, or whose CA "
                               "does not trust this certificate, refuses it)"
                             : " (a node with TLS on refuses a plain console: "
                               "give --tls-dir)"));
  }
  p->remote = std::move(*remote);
  return std::unique_ptr<admin_client>(new admin_client(std::move(p)));
}

admin_answer admin_client::call(const std::string& command,
                                const std::vector<std::string>& args) {
  auto& p = *impl_;
  v1::AdminRequest rq;
  rq.set_token(p.token);
  rq.set_command(command);
  for (auto& a : args)
    rq.add_args(a);
  admin_answer out;
  caf::scoped_actor self{*p.sys};
  self->request(p.remote, caf::infinite, admin_atom::value,
                rq.SerializeAsString())
      .receive(
          [&](const std::string& bytes) {
            v1::AdminResponse rs;
            if (!rs.ParseFromString(bytes)) {
              out.code = admin_code::failed;
              out.error = "the node's answer is not a sluice.v1.AdminResponse";
              return;
            }
            out.code = static_cast<admin_code>(rs.code());
            out.json = rs.json();
            out.error = rs.error();
          },
          [&](caf::error& e) {
            out.code = admin_code::unreachable;
            out.error =
                "lost the node at " + p.address + ": " + describe_error(e);
          });
  return out;
}

} // namespace sluice
