// Private: the HTTP endpoint's settings from the command line of `run` and
// `node`: the webhook's HMAC key, the tokens file and the console token, who
// may read without a token, and the on-demand limits. Used once at start.
#pragma once

#include <string>
#include <vector>

#include "http_ingest.hpp"
#include "private_files.hpp"
#include "run_pipeline.hpp"
#include "sluice/result.hpp"

namespace CLI {
class App;
} // namespace CLI

namespace sluice::cli {

/// The endpoint's options, and the secret files they came from (for the
/// mode check).
struct http_settings {
  ingest_options ingest;
  std::vector<private_path> secret_files;
};

/// Reads --hmac-key-file and --tokens-file; `console_token` (may be empty)
/// becomes the token "console" with every scope. A file that cannot be
/// read or is malformed is an error naming it (and the line).
result<http_settings> load_http_settings(const run_args& a,
                                         const std::string& console_token);

/// Adds the access and limit options to `cmd` (shared by run and node).
void add_http_access_options(CLI::App& cmd, run_args& a);

} // namespace sluice::cli
