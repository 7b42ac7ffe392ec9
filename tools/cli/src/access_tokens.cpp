// The tokens file's parser and the constant-time token match
// (CRYPTO_memcmp over SHA-256 digests, so every comparison has one length).
#include "access_tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sluice::cli {

namespace {

constexpr std::size_t min_token_chars = 16;

std::optional<unsigned> parse_scopes(const std::string& list,
                                     std::string& why) {
  unsigned out = 0;
  std::stringstream in(list);
  std::string one;
  while (std::getline(in, one, ',')) {
    bool found = false;
    for (auto s : {scope::read, scope::query, scope::publish, scope::admin})
      if (one == scope_name(s)) {
        out |= static_cast<unsigned>(s);
        found = true;
      }
    if (!found) {
      why = "unknown scope '" + one + "' (scopes: read, query, publish, admin)";
      return std::nullopt;
    }
  }
  if (out == 0)
    why = "no scope (scopes: read, query, publish, admin)";
  return out == 0 ? std::nullopt : std::optional<unsigned>{out};
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() != 64)
    return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9')
        return c - '0';
      if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
      if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
      return -1;
    };
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 64
         && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                == std::string::npos;
}

} // namespace

const char* scope_name(scope s) noexcept {
  switch (s) {
  case scope::read:
    return "read";
  case scope::query:
    return "query";
  case scope::publish:
    return "publish";
  case scope::admin:
    return "admin";
  }
  return "?";
}

bool access_token::grants(scope s) const noexcept {
  auto want = static_cast<unsigned>(s);
  if (scopes & static_cast<unsigned>(scope::admin))
    return true;
  if (s == scope::read && (scopes & static_cast<unsigned>(scope::query)))
    return true;
  return (scopes & want) != 0;
}

std::string access_token::scope_list() const {
  std::string out;
  for (auto s : {scope::read, scope::query, scope::publish, scope::admin})
    if (scopes & static_cast<unsigned>(s))
      out += (out.empty() ? "" : ",") + std::string(scope_name(s));
  return out;
}

std::string sha256_of(std::string_view text) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

result<token_set> token_set::parse(const std::string& text,
                                   const std::string& path) {
  token_set set;
  std::stringstream in(text);
  std::string line;
  auto folder = std::filesystem::path(path).parent_path();
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    auto bad = [&](const std::string& why) {
      return fail(errc::invalid_argument,
                  path + ":" + std::to_string(n) + ": " + why);
    };
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    std::stringstream fields(line);
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    if (f.empty())
      continue;
    if (f.size() != 3)
      return bad("expected NAME SCOPES SECRET (3 fields), got "
                 + std::to_string(f.size()));
    access_token t;
    t.name = f[0];
    if (!valid_name(t.name))
      return bad("the name '" + t.name
                 + "' must be 1-64 of letters, digits, '.', '_', '-'");
    if (t.name == "console" || t.name == "anonymous")
      return bad("the name '" + t.name + "' is reserved");
    for (auto& other : set.tokens_)
      if (other.name == t.name)
        return bad("a second token named '" + t.name + "'");
    std::string why;
    auto scopes = parse_scopes(f[1], why);
    if (!scopes)
      return bad(why);
    t.scopes = *scopes;
    auto& secret = f[2];
    if (secret.starts_with("sha256:")) {
      auto raw = from_hex(std::string_view(secret).substr(7));
      if (!raw)
        return bad("sha256: must be followed by 64 hex digits (the SHA-256 "
                   "of the token, e.g. from `printf %s TOKEN | sha256sum`)");
      t.sha256 = std::move(*raw);
    } else if (secret.starts_with("file:") && secret.size() > 5) {
      std::filesystem::path file = secret.substr(5);
      if (file.is_relative())
        file = folder / file;
      std::ifstream tf(file);
      std::string token;
      if (!tf || !std::getline(tf, token))
        return bad("cannot read the token file " + file.string());
      while (!token.empty()
             && (token.back() == '\r' || token.back() == ' '
                 || token.back() == '\t'))
        token.pop_back();
      if (token.size() < min_token_chars)
        return bad("the token in " + file.string() + " has "
                   + std::to_string(token.size()) + " characters; at least "
                   + std::to_string(min_token_chars));
      t.sha256 = sha256_of(token);
      set.files_.push_back(file.string());
    } else {
      return bad("the secret must be sha256:<64 hex digits> or file:PATH");
    }
    for (auto& other : set.tokens_)
      if (CRYPTO_memcmp(other.sha256.data(), t.sha256.data(), 32) == 0)
        return bad("token '" + t.name + "' has the same secret as '"
                   + other.name + "'");
    set.tokens_.push_back(std::move(t));
  }
  return set;
}

result<token_set> token_set::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(errc::not_found, "cannot read the tokens file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return parse(text, path);
}

void token_set::add_console_token(const std::string& token) {
  tokens_.push_back(
      {"console", static_cast<unsigned>(scope::admin), sha256_of(token)});
}

const access_token* token_set::named(std::string_view name) const {
  for (auto& t : tokens_)
    if (t.name == name)
      return &t;
  return nullptr;
}

const access_token* token_set::find(std::string_view presented) const {
  auto digest = sha256_of(presented);
  const access_token* match = nullptr;
  for (auto& t : tokens_) // every token, so the time does not tell which
    if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0)
      match = &t;
  return match;
}

} // namespace sluice::cli
