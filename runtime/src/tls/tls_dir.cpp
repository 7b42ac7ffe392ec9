// A TLS directory read and checked once, at start: each problem is an
// error naming the file, so that CAF's TLS module (which aborts on a file
// it cannot load) only ever sees material that works.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <filesystem>

#include "openssl_ptr.hpp"
#include "sluice/tls.hpp"
#include "sluice/utc_time.hpp"

namespace sluice::tls {

using namespace detail;

namespace {

std::string when(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      t.time_since_epoch());
  return utc_time(ns.count());
}

std::string day_of(std::chrono::system_clock::time_point t) {
  return when(t).substr(0, 10);
}

/// An error when `cert` (named `what` in `file`) is not valid now.
result<void> valid_now(X509* cert, const std::string& file,
                       const std::string& what) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
    return fail(errc::config,
                file + ": " + what + " expired on "
                    + day_of(to_time_point(X509_get0_notAfter(cert)))
                    + "; issue a new one (sluice certs issue)");
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
    return fail(errc::config,
                file + ": " + what + " is not valid before "
                    + when(to_time_point(X509_get0_notBefore(cert)))
                    + " (is this machine's clock right?)");
  return {};
}

std::string named(X509* cert, const char* kind) {
  auto cn = common_name(cert);
  return cn.empty() ? std::string(kind) : std::string(kind) + " '" + cn + "'";
}

std::vector<std::string> alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names)
    return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    auto* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      auto* s = n->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      auto* ip = n->d.iPAddress;
      int len = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      if ((len == 4 || len == 16)
          && inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip),
                       text, sizeof text))
        out.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

/// Reads one file of the directory as text that holds PEM.
result<std::string> read_pem_file(const std::string& path) {
  auto text = read_file(path);
  if (!text)
    return text.error().code == errc::not_found
               ? fail(errc::not_found,
                      path
                          + ": missing (a TLS directory holds ca.pem, "
                            "node.pem and node.key; sluice certs issue "
                            "makes one)")
               : text.error();
  if (text->find("-----BEGIN ") == std::string::npos)
    return fail(errc::config, path + ": holds no PEM data");
  return text;
}

} // namespace

result<identity> load_dir(const std::string& dir) {
  auto ca_path = dir + "/" + ca_file;
  auto cert_path = dir + "/" + cert_file;
  auto key_path = dir + "/" + key_file;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return fail(errc::not_found, dir + ": no such TLS directory");
  identity id;
  id.dir = dir;
  auto ca = read_pem_file(ca_path);
  if (!ca)
    return ca.error();
  auto cert = read_pem_file(cert_path);
  if (!cert)
    return cert.error();
  auto key = read_pem_file(key_path);
  if (!key)
    return key.error();

  auto cas = read_certificates(*ca);
  if (cas.empty())
    return fail(errc::config, ca_path + ": holds no certificate");
  x509_store_ptr store{X509_STORE_new()};
  for (auto& c : cas) {
    if (X509_check_ca(c.get()) == 0)
      return fail(errc::config, ca_path + ": " + named(c.get(), "certificate")
                                    + " is not a CA certificate");
    if (auto r = valid_now(c.get(), ca_path, named(c.get(), "CA certificate"));
        !r)
      return r.error();
    X509_STORE_add_cert(store.get(), c.get());
  }
  auto chain = read_certificates(*cert);
  if (chain.empty())
    return fail(errc::config, cert_path + ": holds no certificate");
  X509* leaf = chain.front().get();
  if (auto r = valid_now(leaf, cert_path, "the certificate"); !r)
    return r.error();

  if (key->find("ENCRYPTED") != std::string::npos)
    return fail(errc::config,
                key_path
                    + ": the key is encrypted; Sluice reads keys "
                      "without a passphrase (keep the file 0600)");
  auto pkey = read_private_key(*key);
  if (!pkey)
    return fail(errc::config, key_path + ": holds no private key ("
                                  + last_error("unreadable") + ")");
  if (X509_check_private_key(leaf, pkey.get()) != 1) {
    ERR_clear_error();
    return fail(errc::config, key_path
                                  + ": is not the key of the certificate "
                                    "in "
                                  + cert_path);
  }

  x509_stack_ptr untrusted{sk_X509_new_null()};
  for (std::size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted.get(), chain[i].get());
  x509_store_ctx_ptr ctx{X509_STORE_CTX_new()};
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
  if (X509_verify_cert(ctx.get()) != 1) {
    auto why =
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
    return fail(errc::config, cert_path + ": not signed by a CA in " + ca_path
                                  + " (" + why + ")");
  }

  id.ca_pem = std::move(*ca);
  id.cert_pem = std::move(*cert);
  id.key_pem = std::move(*key);
  id.name = common_name(leaf);
  id.hosts = alt_names(leaf);
  id.not_after = to_time_point(X509_get0_notAfter(leaf));
  id.trusted_cas = cas.size();
  return id;
}

std::vector<std::string> warnings(const identity& id) {
  std::vector<std::string> out;
  auto left = id.not_after - std::chrono::system_clock::now();
  if (left < std::chrono::hours(24 * 30))
    out.push_back(id.dir + "/" + cert_file + ": the certificate expires on "
                  + day_of(id.not_after) + "; issue a new one and restart");
  return out;
}

} // namespace sluice::tls
