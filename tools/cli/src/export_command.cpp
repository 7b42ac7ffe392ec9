// `sluice export --data DIR --stage NAME`: "key<TAB>state-as-JSON" per key,
// sorted by key. Safe beside a running node (LMDB readers never block).
#include <iostream>

#include "commands.hpp"
#include "isolated.hpp"
#include "sluice/store/export.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cli {

namespace {

struct export_args {
  std::string data_dir;
  std::string stage;
};

int export_in_child(const export_args& a, const registry& reg) {
  auto st = store::open(store_options::read_only_at(a.data_dir));
  if (!st) {
    print_error(st.error().describe());
    return usage;
  }
  // Whole lines only: if LMDB crashes on a damaged page, what was printed
  // before ends with a whole line. A damaged key is left out and named;
  // the others are exported.
  whole_lines lines;
  std::ostream out(&lines);
  std::size_t damaged = 0;
  auto n = export_stage(**st, a.stage, reg, out, [&](const error& why) {
    out.flush();
    print_error(why.describe());
    ++damaged;
  });
  out.flush();
  if (!n) {
    print_error(n.error().describe());
    return n.error().code == errc::not_found ? usage : failed;
  }
  if (damaged > 0) {
    print_error(std::to_string(damaged) + " damaged key"
                + (damaged == 1 ? " was" : "s were")
                + " left out of the export: run `sluice check --data "
                + a.data_dir + "`");
    return failed;
  }
  return ok;
}

/// Isolated: a page LMDB crashes on is reported, not died of.
int run_export(const export_args& a, const registry& reg) {
  return isolated(a.data_dir, [&](crash_note& note) {
    note.set("stage " + a.stage);
    return export_in_child(a, reg);
  });
}

} // namespace

action add_export_command(CLI::App& app, const registry& reg) {
  auto a = std::make_shared<export_args>();
  auto* cmd = app.add_subcommand(
      "export",
      "Print every key of a stage as key<TAB>state-JSON, sorted by key");
  cmd->add_option("--data", a->data_dir, "Data directory of a node")
      ->required();
  cmd->add_option("--stage", a->stage, "Stage name")->required();
  return [a, &reg] { return run_export(*a, reg); };
}

} // namespace sluice::cli
