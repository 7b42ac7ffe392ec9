// Private: the bearer tokens of the HTTP API. The console token and named
// tokens with scopes read from a tokens file; a presented token is matched
// against every known one in constant time. Immutable once loaded, so safe
// to share between the endpoint's threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/result.hpp"

namespace sluice::cli {

/// What a token may do. `admin` grants every scope; `query` grants `read`.
enum class scope : std::uint8_t {
  read = 1,    ///< GET /v1/keys for keys the node has
  query = 2,   ///< on-demand ingestion and ?refresh=1
  publish = 4, ///< POST /v1/events without an HMAC signature
  admin = 8,   ///< POST /v1/topology; everything
};

/// The scope's name in the tokens file and in messages ("read").
const char* scope_name(scope s) noexcept;

/// A named token: its name, scopes (a bit set of `scope`) and the SHA-256
/// of its secret (never the secret itself).
struct access_token {
  std::string name;
  unsigned scopes = 0;
  std::string sha256; ///< 32 raw bytes

  /// True when the token's scopes grant `s`.
  bool grants(scope s) const noexcept;
  /// The scopes as "read,query".
  std::string scope_list() const;
};

/// Every token the endpoint knows.
class token_set {
public:
  /// Parses a tokens file's text; `path` names it in errors ("FILE:LINE:
  /// why") and relative `file:` secrets are read from its folder. Each
  /// line: NAME SCOPES SECRET, where SCOPES is a comma list and SECRET is
  /// `sha256:<64 hex digits>` (of the token) or `file:PATH` (the token on
  /// its first line). Blank lines and `#` comments are skipped.
  static result<token_set> parse(const std::string& text,
                                 const std::string& path);
  /// Reads and parses `path`.
  static result<token_set> load(const std::string& path);

  /// Adds the console token as "console" with every scope.
  void add_console_token(const std::string& token);

  /// The token whose secret is `presented`, compared in constant time
  /// against every token (no early exit); nothing when none matches.
  const access_token* find(std::string_view presented) const;

  /// The token named `name`, or null.
  const access_token* named(std::string_view name) const;
  bool empty() const noexcept { return tokens_.empty(); }
  const std::vector<access_token>& tokens() const noexcept { return tokens_; }
  /// Files named by `file:` secrets, for the mode check.
  const std::vector<std::string>& secret_files() const noexcept {
    return files_;
  }

private:
  std::vector<access_token> tokens_;
  std::vector<std::string> files_;
};

/// The SHA-256 of `text`: 32 raw bytes.
std::string sha256_of(std::string_view text);

} // namespace sluice::cli
