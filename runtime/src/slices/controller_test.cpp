// The slice controller behaviour through the test context: settings
// checked, batches applied with one event per changed slice and per
// changed hub, bad batches refused by field, the state kept between
// events and read back by a new instance, the reconcile timer, the
// console's view.
#include "sluice/slice_controller.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "sluice/test_context.hpp"

namespace sluice::slices {
namespace {

using json = nlohmann::json;

std::unique_ptr<behaviour> make(const stage_settings& s = {}) {
  registry reg;
  EXPECT_TRUE(add_slice_controller(reg));
  auto b = reg.create(std::string(controller_name));
  EXPECT_TRUE(b);
  auto ok = (*b)->configure(s);
  EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
  return std::move(*b);
}

event batch(const json& j) {
  event ev;
  ev.payload = j.dump();
  return ev;
}

json rec(const std::string& name, std::vector<std::string> edges,
         json data = nullptr) {
  return {{"name", name}, {"edges", edges}, {"data", data}};
}

/// The emitted slice events by key, as JSON.
std::map<std::string, json> emitted(const test_context& ctx) {
  std::map<std::string, json> out;
  for (auto& [topic, ev] : ctx.emitted) {
    EXPECT_EQ(topic, "slice_changed");
    EXPECT_EQ(ev.attributes.at("tenant"), "suite");
    out[ev.key] = json::parse(ev.payload);
  }
  return out;
}

TEST(SliceController, RefusesSettingsThatCannotWork) {
  registry reg;
  ASSERT_TRUE(add_slice_controller(reg));
  auto b = reg.create(std::string(controller_name));
  ASSERT_TRUE(b);
  stage_settings typo;
  typo.set("min_indegree", {"3"});
  auto r = (*b)->configure(typo);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("settings.min_indegree: unknown setting "
                                   "(known: min_in_degree, reference"),
            std::string::npos)
      << r.error().message;
  stage_settings bad;
  bad.set("min_in_degree", {"three"});
  r = (*b)->configure(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "settings.min_in_degree: expected an integer "
                               "in [0, 1000000], got 'three'");
  stage_settings every;
  every.set("reconcile_every", {"often"});
  EXPECT_FALSE((*b)->configure(every));
  stage_settings list;
  list.set("topic", {"a", "b"});
  r = (*b)->configure(list);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "settings.topic: expected one value, got a list of 2");
}

TEST(SliceController, EmitsOneEventPerChangedSliceWithItsMembersDataAndHubs) {
  stage_settings s;
  s.set("min_in_degree", {"3"});
  auto b = make(s);
  test_context ctx("slices", "suite");
  // libc is depended on by 3: a hub. a-b and c-d are slices; e is alone.
  b->on_event(ctx, batch({{"upsert",
                           {rec("a", {"b", "libc"}, {{"size", 1}}),
                            rec("b", {"libc"}, {{"size", 2}}),
                            rec("c", {"d", "libc"}), rec("d", {}), rec("e", {}),
                            rec("libc", {}, {{"size", 100}})}}}));
  auto first = emitted(ctx);
  ASSERT_EQ(first.size(), 4u) << ctx.emitted.size();
  ASSERT_TRUE(first.count("suite/ref/libc"));
  EXPECT_EQ(first.at("suite/ref/libc")["change"], "reference");
  EXPECT_EQ(first.at("suite/ref/libc")["data"]["size"], 100);
  json ab;
  for (auto& [key, j] : first)
    if (j.contains("members") && j["members"].size() == 2
        && j["members"][0]["name"] == "a")
      ab = j;
  ASSERT_FALSE(ab.is_null());
  EXPECT_EQ(ab["change"], "upserted");
  EXPECT_EQ(ab["members"][1]["data"]["size"], 2);
  EXPECT_EQ(ab["references"][0]["name"], "libc");
  EXPECT_EQ(ab["references"][0]["data"]["size"], 100);
  EXPECT_EQ(ctx.counters.at("slices_changed"), 3u);
  ASSERT_EQ(ctx.timers.size(), 1u);
  EXPECT_EQ(ctx.timers[0].kind, timer_kind::in_memory);
  EXPECT_EQ(ctx.timers[0].delay, std::chrono::minutes(10));

  // A hub's own change is one reference event: no slice reruns.
  ctx.clear_effects();
  b->on_event(ctx, batch({{"upsert", {rec("libc", {}, {{"size", 101}})}}}));
  auto hub = emitted(ctx);
  ASSERT_EQ(hub.size(), 1u);
  EXPECT_EQ(hub.begin()->first, "suite/ref/libc");
  // Set again for the same due time: a busy tenant does not push it back.
  ASSERT_EQ(ctx.timers.size(), 1u);
  EXPECT_LE(ctx.timers[0].delay, std::chrono::minutes(10));
  EXPECT_GT(ctx.timers[0].delay, std::chrono::minutes(9));

  // The same record again changes nothing; new data reruns its slice only.
  ctx.clear_effects();
  b->on_event(
      ctx, batch({{"upsert",
                   {rec("e", {}), rec("a", {"b", "libc"}, {{"size", 5}})}}}));
  auto rerun = emitted(ctx);
  ASSERT_EQ(rerun.size(), 1u);
  EXPECT_EQ(rerun.begin()->first, "suite/" + ab["slice"].dump());
  EXPECT_EQ(rerun.begin()->second["members"][0]["data"]["size"], 5);

  // A record naming itself: the self-loop is ignored, and said.
  ctx.clear_effects();
  b->on_event(ctx, batch({{"upsert", {rec("e", {"e"})}}}));
  EXPECT_TRUE(emitted(ctx).empty()) << "nothing else changed";
  ASSERT_EQ(ctx.logged.size(), 1u);
  EXPECT_EQ(ctx.logged[0].second, "record 'e' names itself among its edges: "
                                  "that self-loop is ignored");
  EXPECT_EQ(json::parse(b->state_to_json(ctx.state()))["self_loops"], 1);

  // c depends on e now: the slices merge, the larger keeps its id.
  ctx.clear_effects();
  b->on_event(ctx, batch({{"upsert", {rec("c", {"d", "e", "libc"})}}}));
  std::multiset<std::string> kinds;
  for (auto& [key, j] : emitted(ctx))
    kinds.insert(j["change"].get<std::string>());
  EXPECT_EQ(kinds, (std::multiset<std::string>{"merged", "removed"}));
}

TEST(SliceController, RefusesAMalformedBatchNamingTheField) {
  auto b = make();
  test_context ctx("slices", "suite");
  auto refused = [&](const std::string& payload) -> std::string {
    event ev;
    ev.payload = payload;
    try {
      b->on_event(ctx, ev);
    } catch (const permanent_error& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_EQ(refused("{"), "slice batch: the payload is not JSON");
  EXPECT_EQ(refused(R"({"upsert":[{"name":"a","edges":"b"}]})"),
            "slice batch: upsert[0].edges: expected a list of names");
  EXPECT_EQ(refused(R"({"upsert":[{"name":"a","edges":["b",3]}]})"),
            "slice batch: upsert[0].edges[1]: expected a non-empty string, "
            "got 3");
  EXPECT_EQ(refused(R"({"upsert":[{"edges":[]}]})"),
            "slice batch: upsert[0]: no name");
  EXPECT_EQ(refused(R"({"upserts":[]})"),
            "slice batch: unknown field 'upserts' (known: upsert, remove)");
  EXPECT_FALSE(ctx.has_state()) << "nothing applied";
}

TEST(SliceController, ANewInstanceReadsTheStateAndGoesOnWithTheSameIds) {
  auto b = make();
  test_context ctx("slices", "suite");
  b->on_event(ctx, batch({{"upsert",
                           {rec("a", {"b"}), rec("b", {}), rec("x", {"y"}),
                            rec("y", {})}}}));
  std::string state = ctx.state();
  // The cached instance and a fresh one (a restarted key actor) must give
  // the same events for the same next batch.
  auto next = batch({{"upsert", {rec("b", {}, "v2")}}, {"remove", {"y"}}});
  ctx.clear_effects();
  b->on_event(ctx, next);
  auto cached = ctx.emitted;
  auto fresh = make();
  test_context again("slices", "suite");
  again.set_state(state);
  fresh->on_event(again, next);
  ASSERT_EQ(again.emitted.size(), cached.size());
  for (std::size_t i = 0; i < cached.size(); ++i) {
    EXPECT_EQ(again.emitted[i].second.key, cached[i].second.key);
    EXPECT_EQ(again.emitted[i].second.payload, cached[i].second.payload);
  }
  EXPECT_EQ(again.emitted.size(), 2u); // a-b upserted, x's slice upserted

  // A state that is not the controller's is refused, not misread.
  test_context broken("slices", "suite");
  broken.set_state("not a slice state");
  EXPECT_THROW(fresh->on_event(broken, next), permanent_error);
}

TEST(SliceController, TheReconcileTimerComparesWithARecomputeAndRearms) {
  stage_settings s;
  s.set("reconcile_every", {"1h"});
  auto b = make(s);
  test_context ctx("slices", "suite");
  b->on_event(ctx, batch({{"upsert", {rec("a", {"b"}), rec("b", {})}}}));
  ASSERT_EQ(ctx.timers.size(), 1u);
  EXPECT_EQ(ctx.timers[0].delay, std::chrono::hours(1));
  ctx.clear_effects();
  event tick;
  tick.timer = "reconcile";
  b->on_timer(ctx, tick);
  EXPECT_EQ(ctx.counters.at("slices_reconciles"), 1u);
  EXPECT_EQ(ctx.counters.at("slices_reconcile_differences"), 0u);
  ASSERT_EQ(ctx.timers.size(), 1u) << "re-armed";
  ASSERT_EQ(ctx.logged.size(), 1u);
  EXPECT_EQ(ctx.logged[0].second,
            "reconcile: 1 slices equal a from-scratch recompute");
  auto view = json::parse(b->state_to_json(ctx.state()));
  EXPECT_EQ(view["slices"], 1);
  EXPECT_EQ(view["largest"], 2);
  EXPECT_EQ(view["reconcile"]["runs"], 1);
  EXPECT_EQ(view["batches"], 1);
  EXPECT_EQ(view["last_change"]["upserted"], 1);
  EXPECT_EQ(view["changes"]["upserted"], 1);
  EXPECT_EQ(view["changes"]["records"], 2);
  EXPECT_EQ(view["largest_slices"][0]["members"], 2);
}

TEST(SliceController, AChangedReferenceRuleMovesRecordsKeepingIds) {
  auto loose = make();
  test_context ctx("slices", "suite");
  loose->on_event(
      ctx, batch({{"upsert",
                   {rec("a", {"hub"}), rec("b", {"hub"}), rec("hub", {})}}}));
  auto id = emitted(ctx).begin()->first;
  stage_settings s;
  s.set("reference", {"hub"});
  auto strict = make(s);
  ctx.clear_effects();
  strict->on_event(ctx, batch(json{{"upsert", json::array()}}));
  auto moved = emitted(ctx);
  ASSERT_TRUE(moved.count(id)) << "the old slice goes on under its id";
  EXPECT_TRUE(moved.count("suite/ref/hub"));
  EXPECT_EQ(moved.at(id)["change"], "upserted");
  std::size_t splits = 0;
  for (auto& [key, j] : moved)
    splits += j["change"] == "split" ? 1 : 0;
  EXPECT_EQ(splits, 1u);
}

} // namespace
} // namespace sluice::slices
