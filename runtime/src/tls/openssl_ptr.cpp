// OpenSSL helpers shared by the TLS directory's check and the CA.
#include "openssl_ptr.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sluice::tls::detail {

std::string last_error(const char* fallback) {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty())
      out += "; ";
    // "error:0480006C:PEM routines::no start line" -> the reason only.
    const char* reason = ERR_reason_error_string(e);
    out += reason ? reason : buf;
  }
  return out.empty() ? fallback : out;
}

namespace {

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr{BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))};
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  auto n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string{};
}

} // namespace

std::vector<x509_ptr> read_certificates(const std::string& pem) {
  std::vector<x509_ptr> out;
  auto b = memory_bio(pem);
  while (auto* c = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr))
    out.emplace_back(c);
  ERR_clear_error(); // the end of the text reads as "no start line"
  return out;
}

pkey_ptr read_private_key(const std::string& pem) {
  auto b = memory_bio(pem);
  // A callback that gives no passphrase: an encrypted key fails to read.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  pkey_ptr k{PEM_read_bio_PrivateKey(b.get(), nullptr, no_passphrase, nullptr)};
  return k;
}

std::string certificate_pem(X509* cert) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  PEM_write_bio_X509(b.get(), cert);
  return bio_text(b.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  bio_ptr b{BIO_new(BIO_s_mem())};
  PEM_write_bio_PrivateKey(b.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(b.get());
}

std::string common_name(X509* cert) {
  auto* subject = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0)
    return {};
  auto* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0)
    return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1)
    return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

result<std::string> read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail(errno == ENOENT ? errc::not_found : errc::io,
                path + ": " + std::generic_category().message(errno));
  if (!S_ISREG(st.st_mode))
    return fail(errc::io, path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(errc::io, path + ": cannot read: "
                              + std::generic_category().message(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace sluice::tls::detail
