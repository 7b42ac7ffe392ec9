// Private: how the console shows a command's JSON answer to a person.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace sluice::cli {

/// Writes `answer` (the JSON of `command args...`) as aligned text that
/// fits 80 columns.
void render(const std::string& command, const std::vector<std::string>& args,
            const nlohmann::json& answer, std::ostream& out);

} // namespace sluice::cli
