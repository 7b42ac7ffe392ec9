// Private to the debian_slices tests: a bundled file's text.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace debian_slices::test_files {

/// The whole file at `path`; empty when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace debian_slices::test_files
