// A stage with `state: none` on a real node: its events flow on to the
// next stage exactly once with no state record kept, a behaviour that sets
// state there dead-letters its event naming the setting, and queries and
// inspect say the stage keeps no state.
#include <gtest/gtest.h>

#include "sluice/node.hpp"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;

namespace {

/// Forwards each payload to `out`; keeps nothing.
class forward_behaviour : public behaviour {
public:
  void on_event(context& ctx, const event& ev) override {
    ctx.emit("out", ev.payload);
  }
};

/// first (`state: none`, running `behaviour`) -> second (test.count).
topology stateless_first(const std::string& behaviour) {
  auto t = parse_topology("pipeline: test\n"
                          "topics: [in, out]\n"
                          "stages:\n"
                          "  - name: first\n"
                          "    behaviour: "
                              + behaviour
                              + "\n"
                                "    subscribe: [{ topic: in }]\n"
                                "    emits: [out]\n"
                                "    state: none\n"
                                "  - name: second\n"
                                "    behaviour: test.count\n"
                                "    subscribe: [{ topic: out }]\n",
                          "test.yaml");
  EXPECT_TRUE(t) << t.error().describe();
  return *t;
}

registry registry_with_forward() {
  auto reg = test_registry();
  EXPECT_TRUE(reg.add<forward_behaviour>("test.forward"));
  return reg;
}

} // namespace

TEST(NodeStateless, EventsFlowThroughAStageWithoutStateOnceEach) {
  auto dir = temp_dir("stateless_flow");
  auto reg = registry_with_forward();
  {
    auto n =
        node::start(stateless_first("test.forward"), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    auto done = (*n)->publish_and_wait(
        "in",
        {make_event("k", "a"), make_event("k", "b"), make_event("k", "c")},
        std::chrono::seconds(30));
    ASSERT_TRUE(done) << done.error().describe();
    ASSERT_EQ(done->size(), 3u);
    for (auto& d : *done) {
      EXPECT_EQ(d.outcome, done_outcome::done) << d.id;
      EXPECT_EQ(d.processed, 2u) << d.id; // first, then second
    }
    // The second stage counted each event once.
    auto second = (*n)->admin("inspect", {"second", "k"});
    ASSERT_EQ(second.code, admin_code::ok) << second.error;
    EXPECT_NE(second.json.find("\"state\":\"3\""), std::string::npos)
        << second.json;
    // The first keeps no record of the key: inspect says so, and a key it
    // has no actor for is unknown there, with the reason.
    auto first = (*n)->admin("inspect", {"first", "k"});
    ASSERT_EQ(first.code, admin_code::ok) << first.error;
    EXPECT_NE(first.json.find("\"stateless\":true"), std::string::npos)
        << first.json;
    EXPECT_EQ(first.json.find("\"version\""), std::string::npos) << first.json;
    auto other = (*n)->admin("inspect", {"first", "never-seen"});
    EXPECT_EQ(other.code, admin_code::failed);
    EXPECT_NE(other.error.find("(state: none: it keeps no state"),
              std::string::npos)
        << other.error;
    auto q = (*n)->query("first", "k");
    ASSERT_FALSE(q);
    EXPECT_EQ(q.error().code, errc::invalid_argument);
    EXPECT_NE(q.error().message.find("keeps no state (state: none)"),
              std::string::npos)
        << q.error().message;
    (*n)->stop();
  }
  // After a restart the key goes on the same way.
  {
    auto n =
        node::start(stateless_first("test.forward"), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    auto done = (*n)->publish_and_wait("in", {make_event("k", "d")},
                                       std::chrono::seconds(30));
    ASSERT_TRUE(done) << done.error().describe();
    EXPECT_EQ((*done)[0].processed, 2u);
    auto second = (*n)->admin("inspect", {"second", "k"});
    EXPECT_NE(second.json.find("\"state\":\"4\""), std::string::npos)
        << second.json;
    (*n)->stop();
  }
  fs::remove_all(dir);
}

TEST(NodeStateless, ABehaviourThatKeepsStateThereDeadLettersItsEvent) {
  auto dir = temp_dir("stateless_refused");
  auto reg = registry_with_forward();
  {
    // test.append sets state: wrong for a stage with state: none.
    auto n = node::start(stateless_first("test.append"), reg, options_for(dir));
    ASSERT_TRUE(n) << n.error().describe();
    auto done = (*n)->publish_and_wait("in", {make_event("k", "a")},
                                       std::chrono::seconds(30));
    ASSERT_TRUE(done) << done.error().describe();
    EXPECT_EQ((*done)[0].outcome, done_outcome::done);
    EXPECT_EQ((*done)[0].processed, 1u);
    EXPECT_EQ((*done)[0].dead_lettered, 1u);
    auto s = (*n)->stats();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->stages[1].done, 0u); // nothing went on
    auto dls = (*n)->admin("dlq", {"list"});
    ASSERT_EQ(dls.code, admin_code::ok) << dls.error;
    EXPECT_NE(dls.json.find("has state: none, but its behaviour test.append "
                            "set or cleared the key's state"),
              std::string::npos)
        << dls.json;
    (*n)->stop();
  }
  fs::remove_all(dir);
}
