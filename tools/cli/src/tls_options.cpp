// TLS for the command line: the TLS directory option, the HTTPS server
// (certificates from memory, client certificates optional or required) and
// the HTTPS client of `sluice subscribe`.
#include "tls_options.hpp"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "private_files.hpp"

namespace sluice::cli {

namespace {

struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

bio_ptr pem_bio(const std::string& text) {
  return bio_ptr{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

/// Puts `id`'s chain, key and trusted CAs into `ctx`.
bool load_identity(SSL_CTX& ctx, const tls::identity& id) {
  auto chain = pem_bio(id.cert_pem);
  bool first = true;
  while (X509* c = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
    bool ok = first ? SSL_CTX_use_certificate(&ctx, c) == 1
                    : SSL_CTX_add1_chain_cert(&ctx, c) == 1;
    X509_free(c);
    if (!ok)
      return false;
    first = false;
  }
  auto key_bio = pem_bio(id.key_pem);
  EVP_PKEY* key =
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (!key || SSL_CTX_use_PrivateKey(&ctx, key) != 1) {
    EVP_PKEY_free(key);
    return false;
  }
  EVP_PKEY_free(key);
  auto* store = SSL_CTX_get_cert_store(&ctx);
  auto* names = sk_X509_NAME_new_null();
  auto cas = pem_bio(id.ca_pem);
  while (X509* c = PEM_read_bio_X509(cas.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, c);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(c)));
    X509_free(c);
  }
  // The CAs a client may choose its certificate from.
  SSL_CTX_set_client_CA_list(&ctx, names);
  ERR_clear_error(); // the end of each PEM text reads as an error
  return SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) == 1;
}

} // namespace

result<std::shared_ptr<const tls::identity>>
load_tls_option(const std::string& dir) {
  if (dir.empty())
    return std::shared_ptr<const tls::identity>{};
  auto id = tls::load_dir(dir);
  if (!id)
    return fail(id.error().code, "--tls-dir: " + id.error().message);
  if (auto w = secret_file_exposure(
          {dir + "/" + tls::key_file, "the TLS key (--tls-dir)"}))
    spdlog::warn("{}", *w);
  for (auto& w : tls::warnings(*id))
    spdlog::warn("--tls-dir: {}", w);
  spdlog::info("tls: {} as '{}' ({} trusted CA{})", dir, id->name,
               id->trusted_cas, id->trusted_cas == 1 ? "" : "s");
  return std::make_shared<const tls::identity>(std::move(*id));
}

std::string client_tls_dir(const std::string& dir) {
  if (!dir.empty())
    return dir;
  const char* env = std::getenv("SLUICE_TLS_DIR");
  return env ? env : "";
}

result<std::unique_ptr<httplib::Server>>
make_https_server(const tls::identity& id, client_certs clients) {
  auto svr = std::make_unique<httplib::SSLServer>([&id, clients](SSL_CTX& ctx) {
    if (!load_identity(ctx, id))
      return false;
    SSL_CTX_set_verify(&ctx,
                       clients == client_certs::required
                           ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                           : SSL_VERIFY_PEER,
                       nullptr);
    return true;
  });
  if (!svr->is_valid())
    return fail(errc::config, "--tls-dir " + id.dir
                                  + ": OpenSSL refused the certificate or "
                                    "key for HTTPS");
  return std::unique_ptr<httplib::Server>(std::move(svr));
}

std::unique_ptr<httplib::Client>
make_https_client(const tls::identity& id, const std::string& host, int port) {
  auto url = "https://"
             + (host.find(':') != std::string::npos ? "[" + host + "]" : host)
             + ":" + std::to_string(port);
  auto c = std::make_unique<httplib::Client>(url, id.dir + "/" + tls::cert_file,
                                             id.dir + "/" + tls::key_file);
  c->set_ca_cert_path(id.dir + "/" + tls::ca_file);
  c->enable_server_certificate_verification(true);
  return c;
}

} // namespace sluice::cli
