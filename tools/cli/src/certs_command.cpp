// `sluice certs init DIR` makes a cluster's certificate authority;
// `sluice certs issue --ca DIR --name NAME [--host H ...] --out DIR` makes a
// TLS directory (node.pem, node.key, ca.pem) for a member, a console or an
// HTTPS client, signed by it. libcrypto, no openssl(1).
#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.hpp"
#include "sluice/tls.hpp"

namespace sluice::cli {

namespace {

struct certs_args {
  std::string ca_dir; ///< init: where; issue: --ca
  std::string ca_name = "Sluice cluster CA";
  tls::issue_options issue;
  std::string out_dir;
  int ca_days = 3650;
};

int run_init(const certs_args& a) {
  if (auto r = tls::init_ca(a.ca_dir, {.name = a.ca_name, .days = a.ca_days});
      !r) {
    print_error(r.error().message);
    return r.error().code == errc::io ? failed : usage;
  }
  std::cout << "sluice: made the CA '" << a.ca_name << "' in " << a.ca_dir
            << " (ca.pem; ca.key is its private key: keep it off the "
               "members, 0600)\n";
  return ok;
}

int run_issue(const certs_args& a) {
  if (auto r = tls::issue(a.ca_dir, a.issue, a.out_dir); !r) {
    print_error(r.error().message);
    return r.error().code == errc::io ? failed : usage;
  }
  auto id = tls::load_dir(a.out_dir); // what a start will check
  if (!id) {
    print_error("the issued directory does not load: " + id.error().message);
    return failed;
  }
  std::string hosts;
  for (auto& h : id->hosts)
    hosts += (hosts.empty() ? "" : ", ") + h;
  std::cout << "sluice: issued '" << id->name << "' in " << a.out_dir
            << " (node.pem, node.key 0600, ca.pem)"
            << (hosts.empty() ? "" : "; hosts " + hosts) << "; valid for "
            << a.issue.days << " days\n";
  return ok;
}

} // namespace

action add_certs_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<certs_args>();
  auto* cmd = app.add_subcommand(
      "certs", "Make a cluster's certificate authority and TLS directories");
  cmd->require_subcommand(1);
  auto* init = cmd->add_subcommand(
      "init", "Make a certificate authority: DIR/ca.pem and DIR/ca.key");
  init->add_option("dir", a->ca_dir, "Where (created 0700)")->required();
  init->add_option("--name", a->ca_name, "The CA's common name");
  init->add_option("--days", a->ca_days, "Validity in days (default 3650)")
      ->check(CLI::Range(1, 36500));
  auto* issue = cmd->add_subcommand(
      "issue", "Make a TLS directory (node.pem, node.key, ca.pem) signed by "
               "the CA, for a member, a console or an HTTPS client");
  issue->add_option("--ca", a->ca_dir, "The CA's directory (certs init)")
      ->required();
  issue
      ->add_option("--name", a->issue.name,
                   "The certificate's name: the member's --name, or "
                   "console, or a client's name")
      ->required();
  issue->add_option("--host", a->issue.hosts,
                    "A DNS name or IP address clients reach it by "
                    "(repeatable): its --listen and --http hosts");
  issue->add_option("--days", a->issue.days, "Validity in days (default 825)")
      ->check(CLI::Range(1, 36500));
  issue->add_option("--out", a->out_dir, "The TLS directory to make")
      ->required();
  return [a, init] { return init->parsed() ? run_init(*a) : run_issue(*a); };
}

} // namespace sluice::cli
