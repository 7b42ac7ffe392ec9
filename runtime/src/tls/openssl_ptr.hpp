// Private: OpenSSL objects owned by unique_ptr, libcrypto's error queue as
// text, PEM in and out of strings, and the small file helpers of a TLS
// directory (read whole, write new with a mode).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::tls::detail {

struct ossl_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(BIO* p) const noexcept { BIO_free(p); }
  void operator()(X509_STORE* p) const noexcept { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const noexcept { X509_STORE_CTX_free(p); }
  void operator()(X509_NAME* p) const noexcept { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
  void operator()(STACK_OF(X509) * p) const noexcept { sk_X509_free(p); }
};

using x509_ptr = std::unique_ptr<X509, ossl_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_free>;
using bio_ptr = std::unique_ptr<BIO, ossl_free>;
using x509_store_ptr = std::unique_ptr<X509_STORE, ossl_free>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, ossl_free>;
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), ossl_free>;

/// libcrypto's error queue as one line (and the queue emptied); `fallback`
/// when it is empty.
std::string last_error(const char* fallback = "unknown OpenSSL error");

/// Every certificate in a PEM text, in order (none: empty).
std::vector<x509_ptr> read_certificates(const std::string& pem);

/// The first private key in a PEM text; null when there is none or it is
/// encrypted (no passphrase is ever asked for).
pkey_ptr read_private_key(const std::string& pem);

std::string certificate_pem(X509* cert);
std::string private_key_pem(EVP_PKEY* key);

/// The certificate's subject common name ("" without one).
std::string common_name(X509* cert);

/// ASN1 time as a system_clock time point.
std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t);

/// The whole file; errc::not_found or errc::io naming it.
result<std::string> read_file(const std::string& path);

} // namespace sluice::tls::detail
