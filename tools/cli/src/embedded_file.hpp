// Private: a file compiled into the binary (cmake/SluiceEmbed.cmake), e.g.
// the dashboard's page and its assets.
#pragma once

#include <string_view>

namespace sluice::cli {

/// One embedded file: its name ("app.js") and its bytes.
struct embedded_file {
  std::string_view name;
  std::string_view bytes;
};

/// The dashboard's file named `name` (tools/cli/dashboard/), or null.
const embedded_file* find_dashboard_file(std::string_view name);

} // namespace sluice::cli
