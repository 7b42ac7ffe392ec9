// `sluice dlq list|show|redrive|drop --data DIR`: the dead letters of a data
// directory. Reads beside a running node; redrive and drop write through
// LMDB's writer lock, so they are safe beside one too (a running node picks
// redriven events up with its next appended events, or at its next start).
#include <unistd.h>

#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "isolated.hpp"
#include "sluice/audit.hpp"
#include "sluice/dead_letters.hpp"
#include "sluice/store/store.hpp"

namespace sluice::cli {

namespace {

struct dlq_args {
  std::string data_dir;
  dead_letter_filter filter;
  std::vector<std::string> ids;
  bool all = false;
  bool json = false;
};

int report(const error& e) {
  print_error(e.describe());
  return e.code == errc::not_found || e.code == errc::invalid_argument ? usage
                                                                       : failed;
}

std::string clip(std::string s, std::size_t n) {
  for (auto& c : s)
    if (c == '\n' || c == '\t')
      c = ' ';
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

int list(const dlq_args& a) {
  auto st = store::open(store_options::read_only_at(a.data_dir));
  if (!st)
    return report(st.error());
  auto all = list_dead_letters(**st, a.filter);
  if (!all)
    return report(all.error());
  if (a.json) {
    for (auto& v : *all)
      std::cout << to_json(v, false) << '\n';
    return ok;
  }
  std::cout << std::left << std::setw(12) << "ID" << std::setw(10) << "STAGE"
            << std::setw(22) << "KEY" << std::setw(4) << "TRY"
            << "ERROR\n";
  for (auto& v : *all)
    std::cout << std::setw(12) << clip(v.id, 11) << std::setw(10)
              << clip(v.stage, 9) << std::setw(22)
              << clip(v.key.empty() ? v.source : v.key, 21) << std::setw(4)
              << v.attempts << clip(v.last_error, 32) << '\n';
  std::cout << all->size() << " dead letter" << (all->size() == 1 ? "" : "s")
            << '\n';
  return ok;
}

int show(const dlq_args& a) {
  if (a.ids.size() != 1) {
    print_error("dlq show takes exactly one ID (see `sluice dlq list`)");
    return usage;
  }
  auto ref = parse_dead_letter_id(a.ids.front());
  if (!ref)
    return report(ref.error());
  auto st = store::open(store_options::read_only_at(a.data_dir));
  if (!st)
    return report(st.error());
  auto v = show_dead_letter(**st, *ref);
  if (!v)
    return report(v.error());
  if (a.json) {
    std::cout << to_json(*v, true) << '\n';
    return ok;
  }
  std::cout << "id:        " << v->id << "\nstage:     " << v->stage
            << "\nkey:       " << v->key << "\nevent:     " << v->event_id
            << "\ntopic:     " << v->topic << "\nsource:    " << v->source
            << "\nredrive:   " << (v->redrivable ? "yes" : "no (raw input)")
            << "\nattempts:  " << v->attempts << '\n';
  for (auto& [at, e] : v->errors)
    std::cout << "  at " << at << " ns: " << e << '\n';
  std::cout << "payload:   " << clip(v->payload, 2000) << '\n';
  return ok;
}

/// The refs that redrive or drop act on: the ids given, or every dead
/// letter matching the filter with --all.
result<std::vector<store::dead_letter_ref>>
targets(const store& st, const dlq_args& a, bool redrivable_only) {
  std::vector<store::dead_letter_ref> out;
  if (!a.ids.empty() && a.all)
    return fail(errc::invalid_argument, "give IDs or --all, not both");
  if (a.ids.empty() && !a.all)
    return fail(errc::invalid_argument,
                "give the IDs to act on, or --all (with --stage, --key or "
                "--grep to narrow it)");
  for (auto& id : a.ids) {
    auto ref = parse_dead_letter_id(id);
    if (!ref)
      return ref.error();
    out.push_back(*ref);
  }
  if (a.all) {
    auto all = list_dead_letters(st, a.filter);
    if (!all)
      return all.error();
    for (auto& v : *all)
      if (v.redrivable || !redrivable_only)
        out.push_back(v.ref);
  }
  return out;
}

int change(const dlq_args& a, bool redrive) {
  auto st = store::open({a.data_dir, std::uint64_t{64} << 30, true, false});
  if (!st)
    return report(st.error());
  auto refs = targets(**st, a, redrive);
  if (!refs)
    return report(refs.error());
  auto n = redrive ? (*st)->redrive_dead_letters(*refs)
                   : (*st)->drop_dead_letters(*refs);
  if (!n)
    return report(n.error());
  // The audit trail: who ran it (the local user), on which directory.
  const char* user = std::getenv("USER");
  audit_action({user && *user ? user : "uid " + std::to_string(::getuid()),
                "this machine (sluice dlq)"},
               std::string("dlq ") + (redrive ? "redrive" : "drop") + " in "
                   + a.data_dir,
               std::to_string(*n) + " dead letters");
  std::cout << (redrive ? "redriven: " : "dropped: ") << *n << '\n';
  return ok;
}

} // namespace

action add_dlq_command(CLI::App& app, const registry&) {
  auto a = std::make_shared<dlq_args>();
  auto* cmd =
      app.add_subcommand("dlq", "List, show, redrive or drop dead letters");
  cmd->require_subcommand(1);
  auto common = [&](CLI::App* sub, bool filters) {
    sub->add_option("--data", a->data_dir, "Data directory of a node")
        ->required();
    if (filters) {
      sub->add_option("--stage", a->filter.stage, "Only this stage");
      sub->add_option("--key", a->filter.key, "Only this key");
      sub->add_option("--grep", a->filter.error_contains,
                      "Only those whose last error contains TEXT");
    }
  };
  auto* l = cmd->add_subcommand("list", "One line per dead letter");
  common(l, true);
  l->add_flag("--json", a->json, "One JSON object per line");
  auto* s = cmd->add_subcommand("show", "Everything about one dead letter");
  common(s, false);
  s->add_option("id", a->ids, "ID as printed by list")->required();
  s->add_flag("--json", a->json, "As one JSON object");
  auto* r = cmd->add_subcommand(
      "redrive", "Put dead letters back into their stage's queue");
  common(r, true);
  r->add_option("ids", a->ids, "IDs as printed by list");
  r->add_flag("--all", a->all, "Every dead letter matching the filters");
  auto* d = cmd->add_subcommand("drop", "Delete dead letters for good");
  common(d, true);
  d->add_option("ids", a->ids, "IDs as printed by list");
  d->add_flag("--all", a->all, "Every dead letter matching the filters");
  return [a, l, s, r] {
    if (l->parsed())
      return isolated(a->data_dir, [&](crash_note&) { return list(*a); });
    if (s->parsed())
      return isolated(a->data_dir, [&](crash_note&) { return show(*a); });
    return change(*a, r->parsed());
  };
}

} // namespace sluice::cli
