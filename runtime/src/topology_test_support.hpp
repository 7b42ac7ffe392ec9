// Shared fixtures of the topology tests: a full example pipeline, a
// temporary directory for files and includes, and shorthands for parsing
// YAML that must fail.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>

#include "sluice/topology.hpp"

namespace sluice::topology_test {

namespace fs = std::filesystem;

inline constexpr const char* full_example = R"(pipeline: package_trust
topics: [registry, parsed, enriched]
feed: { topic: registry }
max_payload_bytes: 4096
stages:
  - name: parse
    behaviour: package.parse
    subscribe:
      - topic: registry
        filter: { ecosystem: [npm, pypi, debian], kind: release }
        priority: urgent
    emits: [parsed]
    retry: { max_attempts: 7, backoff: 150ms..2m }
    skip_unchanged: true
    max_in_flight: 64
    max_live_keys: 500
  - name: enrich
    behaviour: package.enrich
    subscribe:
      - topic: parsed
        priority_from: { attribute: prio, urgent: ["1", high] }
    emits: [enriched]
)";

/// A fresh directory under the system temp dir, removed afterwards.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path()
            / ("sluice_topology_test_" + std::to_string(::getpid()) + "_"
               + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const fs::path& path() const { return path_; }

  /// Writes `text` to `relative` (creating folders); returns the full path.
  std::string write(const std::string& relative,
                    const std::string& text) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }

private:
  fs::path path_;
};

/// The error of parsing `yaml` as "pipeline.yaml"; fails the test if it parses.
inline error parse_error(const std::string& yaml) {
  auto parsed = parse_topology(yaml, "pipeline.yaml");
  if (parsed) {
    ADD_FAILURE() << "expected an error, but the topology parsed";
    return error{};
  }
  return parsed.error();
}

inline std::string config_message(const std::string& yaml) {
  const error err = parse_error(yaml);
  EXPECT_EQ(err.code, errc::config) << err.message;
  return err.message;
}

/// A one-stage pipeline whose stage body is `stage` (indented by 4).
inline std::string with_stage(const std::string& stage) {
  return "pipeline: p\n"
         "topics: [in, out]\n"
         "stages:\n"
         "  - name: s\n"
         + stage;
}

inline event event_with(std::map<std::string, std::string> attributes,
                        priority p = priority::normal) {
  event ev;
  ev.attributes = std::move(attributes);
  ev.priority = p;
  return ev;
}

} // namespace sluice::topology_test
