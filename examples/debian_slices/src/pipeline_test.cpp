// The debian_slices pipeline in-process (index -> sluice.slices -> slice
// job, each key's events in order, one behaviour instance per key as a
// key actor has): the bundled sample of bookworm main in chunks, then its
// bookworm-security entries. Checks that the controller's slices stay
// equal to a from-scratch recompute, that the job stage runs exactly once
// per slice_changed event and only for the changed slices, that every
// slice's last job result equals the result of a from-scratch run over
// both indexes, and that bad stanzas are named by file and line.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "debian_slices/debian_slices.hpp"
#include "sluice/slice_controller.hpp"
#include "sluice/test_context.hpp"
#include "test_files.hpp"

namespace debian_slices {
namespace {

using test_files::read_file;

using json = nlohmann::json;

constexpr const char* tenant = "bookworm/amd64";

/// The index's text in chunks of `per` stanzas, as debian_slices_chunk
/// makes them (attributes source and line).
std::vector<sluice::event> chunks(const std::string& text,
                                  const std::string& source, int per) {
  std::vector<sluice::event> out;
  std::size_t pos = 0, line = 1;
  while (pos < text.size()) {
    std::size_t end = pos, lines = 0;
    for (int n = 0; n < per && end < text.size(); ++n) {
      auto blank = text.find("\n\n", end);
      auto stop = blank == std::string::npos ? text.size() : blank + 2;
      for (auto i = end; i < stop; ++i)
        lines += text[i] == '\n' ? 1 : 0;
      end = stop;
    }
    sluice::event ev;
    ev.key = tenant;
    ev.payload = text.substr(pos, end - pos);
    ev.attributes["source"] = source;
    ev.attributes["line"] = std::to_string(line);
    out.push_back(std::move(ev));
    line += lines;
    pos = end;
  }
  return out;
}

/// The three stages, each key with its own behaviour instance and state.
struct pipeline {
  sluice::registry reg;
  struct key {
    std::unique_ptr<sluice::behaviour> b;
    std::unique_ptr<sluice::test_context> ctx;
  };
  std::map<std::string, std::map<std::string, key>> keys; // stage -> key
  std::map<std::string, int> job_runs;                    // job key -> runs
  std::map<std::string, int> job_events; // job key -> slice_changed events
  std::vector<std::string> warnings;

  pipeline() {
    EXPECT_TRUE(register_debian_slices(reg));
    EXPECT_TRUE(sluice::slices::add_slice_controller(reg));
  }

  key& at(const std::string& stage, const std::string& k) {
    auto& slot = keys[stage][k];
    if (!slot.b) {
      static const std::map<std::string, std::string> behaviour_of = {
          {"index", index_name},
          {"slices", std::string(sluice::slices::controller_name)},
          {"job", job_name}};
      auto made = reg.create(behaviour_of.at(stage));
      EXPECT_TRUE(made);
      slot.b = std::move(*made);
      sluice::stage_settings s;
      if (stage == "slices")
        s.set("min_in_degree", {"3"});
      EXPECT_TRUE(slot.b->configure(s));
      slot.ctx = std::make_unique<sluice::test_context>(stage, k);
    }
    return slot;
  }

  void deliver(const std::string& stage, const sluice::event& ev) {
    auto& k = at(stage, ev.key);
    k.ctx->clear_effects();
    k.b->on_event(*k.ctx, ev);
    for (auto& [level, line] : k.ctx->logged)
      if (level == sluice::log_level::warn)
        warnings.push_back(line);
    if (stage == "job")
      ++job_runs[ev.key];
    auto emitted = k.ctx->emitted;
    for (auto& [topic, out] : emitted) {
      if (topic == "records") {
        deliver("slices", out);
      } else {
        EXPECT_EQ(topic, "slice_changed");
        ++job_events[out.key];
        deliver("job", out);
      }
    }
  }

  void feed(const std::string& text, const std::string& source) {
    for (auto& ev : chunks(text, source, 300))
      deliver("index", ev);
  }

  /// The controller's reconcile pass: its differences from a recompute.
  std::uint64_t reconcile() {
    auto& k = at("slices", tenant);
    k.ctx->clear_effects();
    sluice::event tick;
    tick.timer = "reconcile";
    k.b->on_timer(*k.ctx, tick);
    return k.ctx->counters.at("slices_reconcile_differences");
  }

  json controller_view() {
    auto& k = at("slices", tenant);
    return json::parse(k.b->state_to_json(k.ctx->state()));
  }

  /// Each live slice's job result, by its sorted member list (ids and
  /// how it last changed aside): comparable across runs.
  std::map<std::string, json> results_by_members() {
    std::map<std::string, json> out;
    for (auto& [k, slot] : keys["job"]) {
      if (!slot.ctx->has_state() || k.find("/ref/") != std::string::npos)
        continue;
      auto j = json::parse(slot.ctx->state());
      j.erase("slice");
      j.erase("change");
      j.erase("from");
      out[std::to_string(j["members"].get<int>()) + ":"
          + j["installed_size_kib"].dump() + ":" + j["maintainers"].dump()] = j;
    }
    return out;
  }
};

const std::string data_dir = DEBIAN_SLICES_DATA_DIR;

TEST(DebianSlicesPipeline, RunsJobsOnlyForChangedSlicesAndMatchesAFullRun) {
  auto main_text = read_file(data_dir + "/bookworm_main_sample.Packages");
  auto security = read_file(data_dir + "/bookworm_security_sample.Packages");
  ASSERT_FALSE(main_text.empty());
  ASSERT_FALSE(security.empty());

  pipeline p;
  p.feed(main_text, "main.Packages");
  EXPECT_TRUE(p.warnings.empty()) << p.warnings.front();
  EXPECT_EQ(p.reconcile(), 0u) << "after the first build";
  auto first = p.controller_view();
  EXPECT_GT(first["slices"].get<int>(), 1000);
  std::map<std::string, std::string> before; // job key -> state
  for (auto& [k, slot] : p.keys["job"])
    if (slot.ctx->has_state())
      before[k] = slot.ctx->state();

  p.job_runs.clear();
  p.job_events.clear();
  p.feed(security, "security.Packages");
  EXPECT_EQ(p.reconcile(), 0u) << "after the security batch";
  // The job ran once per slice_changed event, for those keys alone.
  EXPECT_EQ(p.job_runs, p.job_events);
  ASSERT_FALSE(p.job_runs.empty());
  std::size_t slice_jobs = 0;
  for (auto& [k, n] : p.job_runs)
    slice_jobs += k.find("/ref/") == std::string::npos ? 1 : 0;
  EXPECT_LT(slice_jobs * 5, before.size())
      << "a security batch changes a fraction of the slices";
  // Slices no event named kept their result byte for byte.
  std::size_t untouched = 0;
  for (auto& [k, state] : before)
    if (!p.job_runs.count(k)) {
      ++untouched;
      EXPECT_EQ(p.keys["job"][k].ctx->state(), state) << k;
    }
  EXPECT_GT(untouched, 0u);

  // Every live slice's last result equals a from-scratch run's.
  pipeline full;
  full.feed(main_text + "\n" + security, "both.Packages");
  auto incremental = p.results_by_members();
  auto scratch = full.results_by_members();
  EXPECT_EQ(incremental.size(), scratch.size());
  EXPECT_TRUE(incremental == scratch);
  std::size_t unsatisfied = 0;
  for (auto& [k, j] : scratch)
    unsatisfied += j["unsatisfied"].size();
  EXPECT_GT(unsatisfied, 0u) << "the sample lacks most dependencies";
}

TEST(DebianSlicesPipeline, NamesBadStanzasByFileAndLineAndGoesOn) {
  pipeline p;
  sluice::event ev;
  ev.key = tenant;
  ev.attributes["source"] = "bad.Packages";
  ev.attributes["line"] = "41";
  ev.payload = "Package: aa\nDepends: aa, bb, cc\n\n"        // a self-loop
               "Package: bb\nDepends: aa, nosuchpackage\n\n" // a cycle
               "Package: cc\nDepends: dd (>= \n\n" // malformed relation
               "this is not a field\n\n"
               "Package: dd\nInstalled-Size: 12\n\n";
  p.deliver("index", ev);
  ASSERT_EQ(p.warnings.size(), 2u) << ::testing::PrintToString(p.warnings);
  EXPECT_NE(p.warnings[0].find("bad.Packages:47: package 'cc': field Depends "
                               "does not parse"),
            std::string::npos)
      << p.warnings[0];
  EXPECT_NE(p.warnings[1].find("bad.Packages:50:"), std::string::npos)
      << p.warnings[1];
  auto index = json::parse(p.keys["index"][tenant].b->state_to_json(
      p.keys["index"][tenant].ctx->state()));
  EXPECT_EQ(index["packages"], 3);
  EXPECT_EQ(index["problems"], 2);
  // aa and bb are one slice (the cycle); the self-loop is ignored; the
  // unknown package and cc (skipped) leave unsatisfied dependencies.
  auto view = p.controller_view();
  EXPECT_EQ(view["slices"], 2);
  EXPECT_EQ(view["self_loops"], 1);
  bool found = false;
  for (auto& [k, slot] : p.keys["job"]) {
    auto j = json::parse(slot.ctx->state());
    if (j["members"] == 2) {
      found = true;
      EXPECT_EQ(j["unsatisfied"], json::array({"aa: cc", "bb: nosuchpackage"}));
    }
  }
  EXPECT_TRUE(found);
}

} // namespace
} // namespace debian_slices
