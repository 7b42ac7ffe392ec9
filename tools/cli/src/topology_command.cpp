// `sluice topology diff OLD.yaml NEW.yaml [--json]`: what a new topology
// would change (topics, stages, subscriptions with their filter policies
// and priority rules, retry, supervision and flow settings). Exit 0 when
// they are the same, 1 when they differ (like diff), 2 on a bad file.
#include <nlohmann/json.hpp>

#include <iostream>

#include "commands.hpp"
#include "sluice/topology.hpp"
#include "sluice/topology_diff.hpp"

namespace sluice::cli {

namespace {

struct diff_args {
  std::string from;
  std::string to;
  bool json = false;
};

int run_diff(const diff_args& a) {
  auto from = load_topology(a.from);
  if (!from) {
    print_error(from.error().describe());
    return usage;
  }
  auto to = load_topology(a.to);
  if (!to) {
    print_error(to.error().describe());
    return usage;
  }
  auto changes = diff_topologies(*from, *to);
  if (a.json) {
    for (auto& c : changes) {
      const char* kind = c.what == topology_change::kind::added     ? "added"
                         : c.what == topology_change::kind::removed ? "removed"
                                                                    : "changed";
      std::cout << nlohmann::json{{"change", kind},
                                  {"subject", c.subject},
                                  {"detail", c.detail}}
                       .dump()
                << '\n';
    }
  } else {
    for (auto& c : changes)
      std::cout << describe(c) << '\n';
    std::cout << (changes.empty()
                      ? "no change"
                      : std::to_string(changes.size())
                            + (changes.size() == 1 ? " change" : " changes"))
              << '\n';
  }
  return changes.empty() ? ok : failed;
}

} // namespace

action add_topology_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<diff_args>();
  auto* cmd = app.add_subcommand("topology", "Work with topology files");
  cmd->require_subcommand(1);
  auto* diff = cmd->add_subcommand(
      "diff", "What NEW changes from OLD: topics, stages, subscriptions "
              "(filters, priorities), settings. Exit 0 same, 1 different");
  diff->add_option("old", a->from, "The topology now (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  diff->add_option("new", a->to, "The topology to compare (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  diff->add_flag("--json", a->json, "One JSON object per change");
  return [a] { return run_diff(*a); };
}

} // namespace sluice::cli
