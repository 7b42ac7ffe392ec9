// Private: reading a whole pipeline (the root file and its includes) into a
// topology, its stage definitions, and the stage graph's cycle check. Errors
// are values whose message names the file, line and field. Pure functions.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/result.hpp"
#include "sluice/topology.hpp"
#include "topology_yaml.hpp"

namespace sluice::topology_yaml {

/// Reads the pipeline whose root file `file` holds `text`: its includes
/// resolve against `base_dir`, and `canonical` (its canonical path, or "")
/// detects a file that includes the root.
result<topology> load_pipeline(const std::string& text, const std::string& file,
                               const std::filesystem::path& base_dir,
                               const std::string& canonical);

/// Reads stage definitions (topology_stages.cpp). Remembers where each
/// stage was defined, to reject a repeated name, and adds every topic a
/// stage references to `topic_refs`, checked once the whole pipeline is
/// read.
class stage_reader {
public:
  explicit stage_reader(std::vector<field>& topic_refs)
      : topic_refs_(topic_refs) {}

  /// The stage defined by the map `f`.
  result<stage_spec> read(const field& f);

private:
  result<void> read_options(const strict_map& m, stage_spec& stage);
  result<subscription> read_subscription(const field& f);
  /// `changelog: { retain: COUNT | DURATION }` (retain: a million changes
  /// when not given).
  static result<changelog_policy> read_changelog(const field& f);
  static result<stage_settings> read_settings(const field& f);
  /// `state: none | kept` into `stage`, which has its skip_unchanged and
  /// changelog read (none is refused with either).
  static result<void> read_state(const field& f, stage_spec& stage);
  result<std::vector<std::string>> read_emits(const field& f);

  std::vector<field>& topic_refs_;
  std::map<std::string, std::string> stage_at_; // name -> "file:line"
};

/// Reads `sources:` (topology_sources.cpp); topics they name are added
/// to `topic_refs`.
result<std::vector<source_spec>> read_sources(const field& f,
                                              std::vector<field>& topic_refs);

/// A cycle of "stage A emits a topic stage B subscribes to", as
/// "a -> b -> a (via topics t, u)"; nullopt when the graph is acyclic.
std::optional<std::string> find_stage_cycle(const topology& topo);

} // namespace sluice::topology_yaml
