// Dead letters through the library: a failed event is quarantined with its
// error, listed, redriven after the cause is fixed, and then applied once.
#include <gtest/gtest.h>

#include "sluice/dead_letter.hpp"
#include "sluice/dead_letters.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

std::atomic<bool> reject_flaky{true};

/// Appends like test.append, but refuses the payload "flaky" while
/// `reject_flaky` is set: a bug that gets fixed.
class flaky_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    if (ev.payload == "flaky" && reject_flaky)
      throw std::runtime_error("flaky payload refused");
    ctx.set_state(ctx.state() + ev.payload + ",");
    ctx.emit("out", ev.payload);
  }
};

registry flaky_registry() {
  registry reg;
  EXPECT_TRUE(reg.add<flaky_behaviour>("test.append"));
  EXPECT_TRUE(reg.add<count_behaviour>("test.count"));
  return reg;
}

} // namespace

TEST(DeadLetters, AFailedEventIsRedrivenAfterAFixAndAppliedOnce) {
  auto dir = temp_dir("dlq_redrive");
  auto reg = flaky_registry();
  reject_flaky = true;
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_TRUE(
        (*n)->publish("in", {make_event("k", "a"), make_event("k", "flaky"),
                             make_event("k", "b")}));
    ASSERT_TRUE(wait_drained(**n));
  }
  EXPECT_EQ(export_map(dir, "first", reg)["k"], "\"a,b,\"");
  {
    auto st = open_store(dir, false);
    ASSERT_TRUE(st);
    auto all = list_dead_letters(*st);
    ASSERT_TRUE(all) << all.error().describe();
    ASSERT_EQ(all->size(), 1u);
    auto& dl = all->front();
    EXPECT_EQ(dl.stage, "first");
    EXPECT_EQ(dl.key, "k");
    EXPECT_EQ(dl.event_id, "k:flaky");
    EXPECT_TRUE(dl.redrivable);
    EXPECT_NE(dl.last_error.find("flaky payload refused"), std::string::npos);
    // Filters narrow the list.
    EXPECT_EQ(list_dead_letters(*st, {"second", "", ""})->size(), 0u);
    EXPECT_EQ(list_dead_letters(*st, {"", "k", "refused"})->size(), 1u);
    // The fix ships; the event goes back to its stage.
    reject_flaky = false;
    auto moved = st->redrive_dead_letters({dl.ref});
    ASSERT_TRUE(moved) << moved.error().describe();
    EXPECT_EQ(*moved, 1u);
    EXPECT_EQ(list_dead_letters(*st)->size(), 0u);
    // Redriving it again is an error naming it, and changes nothing.
    auto again = st->redrive_dead_letters({dl.ref});
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find(dl.id), std::string::npos);
  }
  {
    auto n = node::start(two_stage(), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    ASSERT_TRUE(wait_drained(**n));
    auto s = (*n)->stats();
    EXPECT_EQ(s->stages[0].done, 1u); // only the redriven event ran
  }
  EXPECT_EQ(export_map(dir, "first", reg)["k"], "\"a,b,flaky,\"");
  EXPECT_EQ(export_map(dir, "second", reg)["k"], "\"3\"");
  auto st = open_store(dir, true);
  EXPECT_EQ(dead_letters(*st).size(), 0u);
  fs::remove_all(dir);
}

TEST(DeadLetters, RawInputCannotBeRedrivenAndSaysWhy) {
  auto dir = temp_dir("dlq_raw");
  {
    auto st = open_store(dir, false);
    ASSERT_TRUE(st);
    write_batch b;
    b.dead_letters.push_back(
        raw_dead_letter_record("npm.tsv:3", "badrow\tonly", 1, "bad row"));
    ASSERT_TRUE(st->commit(b));
    auto all = list_dead_letters(*st);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_FALSE(all->front().redrivable);
    EXPECT_EQ(all->front().source, "npm.tsv:3");
    auto r = st->redrive_dead_letters({all->front().ref});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("raw input"), std::string::npos);
    auto d = st->drop_dead_letters({all->front().ref});
    ASSERT_TRUE(d);
    EXPECT_EQ(list_dead_letters(*st)->size(), 0u);
  }
  fs::remove_all(dir);
}

TEST(DeadLetters, IdsParseAndBadOnesAreNamed) {
  auto ok = parse_dead_letter_id("3:1042");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->first, 3u);
  EXPECT_EQ(ok->second, 1042u);
  for (auto bad : {"", "3", ":5", "3:", "x:1", "3:1x", "99999999999:1"}) {
    auto r = parse_dead_letter_id(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(std::string("'") + bad + "'"),
              std::string::npos);
  }
}
