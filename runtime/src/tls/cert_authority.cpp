// A cluster's own certificate authority: `sluice certs init` (a P-256 CA
// key and a self-signed CA certificate) and `sluice certs issue` (a
// member's, console's or client's key and certificate, signed by it), with
// libcrypto; no shelling out to openssl(1).
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "openssl_ptr.hpp"
#include "sluice/private_files.hpp"
#include "sluice/tls.hpp"

namespace sluice::tls {

using namespace detail;

namespace {

constexpr unsigned private_mode = 0600;
constexpr unsigned public_mode = 0644;

pkey_ptr new_key() {
  return pkey_ptr{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
}

bool is_ip(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1
         || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool is_dns_name(const std::string& h) {
  return !h.empty() && h.size() <= 253
         && std::all_of(h.begin(), h.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || (c >= '0' && c <= '9') || c == '-' || c == '.'
                     || c == '*';
            });
}

/// A new certificate for `key`: version 3, a random positive 128-bit
/// serial, subject CN=`name`, valid from now+`starts` for `days`.
result<x509_ptr> new_certificate(EVP_PKEY* key, const std::string& name,
                                 std::chrono::seconds starts, int days) {
  if (days <= 0)
    return fail(errc::invalid_argument,
                "--days " + std::to_string(days) + ": must be at least 1");
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    return fail(errc::io, "no random serial: " + last_error());
  serial[0] &= 0x7f; // positive
  auto* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), starts.count());
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  starts.count() + static_cast<long>(days) * 86400);
  auto* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Sluice"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(
      subject, "CN", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_pubkey(cert.get(), key);
  return cert;
}

/// Adds the extensions `specs` ({nid, "value"}) with `issuer` as the
/// issuing certificate.
result<void>
add_extensions(X509* cert, X509* issuer,
               std::initializer_list<std::pair<int, std::string>> specs) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (auto& [nid, value] : specs) {
    auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext)
      return fail(errc::invalid_argument, std::string("certificate extension ")
                                              + OBJ_nid2sn(nid) + "=" + value
                                              + ": " + last_error());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  return {};
}

result<void> sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0)
    return fail(errc::io, "cannot sign the certificate: " + last_error());
  return {};
}

result<void> refuse_existing(const std::vector<std::string>& paths) {
  for (auto& p : paths)
    if (auto f = read_file(p); f || f.error().code != errc::not_found)
      return fail(errc::invalid_argument,
                  p
                      + ": already exists (not overwritten; choose another "
                        "directory)");
  return {};
}

/// The subject alternative names of `o` as an extension value:
/// "DNS:a,IP:127.0.0.1"; the name itself too when it is a DNS name.
result<std::string> alt_names_of(const issue_options& o) {
  std::vector<std::string> parts;
  auto add = [&parts](std::string p) {
    if (std::find(parts.begin(), parts.end(), p) == parts.end())
      parts.push_back(std::move(p));
  };
  if (is_dns_name(o.name))
    add("DNS:" + o.name);
  for (auto& h : o.hosts) {
    if (is_ip(h))
      add("IP:" + h);
    else if (is_dns_name(h))
      add("DNS:" + h);
    else
      return fail(errc::invalid_argument,
                  "--host '" + h + "': neither a DNS name nor an IP address");
  }
  std::string out;
  for (auto& p : parts)
    out += (out.empty() ? "" : ",") + p;
  return out;
}

} // namespace

result<void> init_ca(const std::string& dir, const ca_options& o) {
  if (o.name.empty())
    return fail(errc::invalid_argument, "the CA needs a name");
  if (auto r = make_private_dir(dir); !r)
    return r;
  auto cert_path = dir + "/ca.pem";
  auto key_path = dir + "/ca.key";
  if (auto r = refuse_existing({cert_path, key_path}); !r)
    return r;
  auto key = new_key();
  if (!key)
    return fail(errc::io, "cannot make a key: " + last_error());
  auto cert =
      new_certificate(key.get(), o.name, std::chrono::seconds{-3600}, o.days);
  if (!cert)
    return cert.error();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(cert->get()));
  if (auto r = add_extensions(cert->get(), cert->get(),
                              {{NID_basic_constraints, "critical,CA:TRUE"},
                               {NID_key_usage, "critical,keyCertSign,cRLSign"},
                               {NID_subject_key_identifier, "hash"}});
      !r)
    return r;
  if (auto r = sign(cert->get(), key.get()); !r)
    return r;
  if (auto r =
          write_new_file(key_path, private_key_pem(key.get()), private_mode);
      !r)
    return r;
  return write_new_file(cert_path, certificate_pem(cert->get()), public_mode);
}

result<void> issue(const std::string& ca_dir, const issue_options& o,
                   const std::string& out_dir) {
  if (o.name.empty())
    return fail(errc::invalid_argument, "--name: a certificate needs a name");
  auto ca_pem = read_file(ca_dir + "/ca.pem");
  if (!ca_pem)
    return ca_pem.error();
  auto ca_key_pem = read_file(ca_dir + "/ca.key");
  if (!ca_key_pem)
    return fail(ca_key_pem.error().code,
                ca_key_pem.error().message
                    + " (--ca names the directory `sluice certs init` made)");
  auto ca_certs = read_certificates(*ca_pem);
  if (ca_certs.empty())
    return fail(errc::config, ca_dir + "/ca.pem: holds no certificate");
  X509* ca = ca_certs.front().get();
  auto ca_key = read_private_key(*ca_key_pem);
  if (!ca_key)
    return fail(errc::config, ca_dir + "/ca.key: holds no private key ("
                                  + last_error("unreadable") + ")");
  if (X509_check_private_key(ca, ca_key.get()) != 1) {
    ERR_clear_error();
    return fail(errc::config,
                ca_dir + "/ca.key: is not the key of " + ca_dir + "/ca.pem");
  }
  auto sans = alt_names_of(o);
  if (!sans)
    return sans.error();

  if (auto r = make_private_dir(out_dir); !r)
    return r;
  auto cert_path = out_dir + "/" + cert_file;
  auto key_path = out_dir + "/" + key_file;
  auto trust_path = out_dir + "/" + ca_file;
  if (auto r = refuse_existing({cert_path, key_path}); !r)
    return r;
  auto existing_trust = read_file(trust_path);
  if (existing_trust && *existing_trust != *ca_pem)
    return fail(errc::invalid_argument,
                trust_path
                    + ": already exists and trusts another CA (not "
                      "overwritten; choose another directory)");

  auto key = new_key();
  if (!key)
    return fail(errc::io, "cannot make a key: " + last_error());
  auto cert = new_certificate(key.get(), o.name, o.starts, o.days);
  if (!cert)
    return cert.error();
  X509_set_issuer_name(cert->get(), X509_get_subject_name(ca));
  std::initializer_list<std::pair<int, std::string>> always = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyAgreement"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (auto r = add_extensions(cert->get(), ca, always); !r)
    return r;
  if (!sans->empty())
    if (auto r =
            add_extensions(cert->get(), ca, {{NID_subject_alt_name, *sans}});
        !r)
      return r;
  if (auto r = sign(cert->get(), ca_key.get()); !r)
    return r;
  if (auto r =
          write_new_file(key_path, private_key_pem(key.get()), private_mode);
      !r)
    return r;
  if (auto r =
          write_new_file(cert_path, certificate_pem(cert->get()), public_mode);
      !r)
    return r;
  if (!existing_trust)
    return write_new_file(trust_path, *ca_pem, public_mode);
  return {};
}

} // namespace sluice::tls
