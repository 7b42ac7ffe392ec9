// A real node over a store with damaged values, and a node restarted with a
// backlog: a corrupt key state or queued event fails only what it touches and
// lands in the dead letters with the reason, and a restart applies every
// queued event exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

#include "sluice/node.hpp"
#include "sluice/store/keys.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/event.pb.h"
#include "sluice/v1/store.pb.h"
#include "sluice_test/node_fixture.hpp"

using namespace sluice;
using namespace sluice_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<node> start_node(const std::string& dir, const registry& reg,
                                 std::uint32_t max_in_flight = 2048) {
  node_options o = options_for(dir);
  o.threads = 2;
  auto n = node::start(two_stage(max_in_flight), reg, o);
  EXPECT_TRUE(n) << n.error().describe();
  return n ? std::move(*n) : nullptr;
}

/// The decoded key state of (stage, key); nullopt when absent or unreadable.
std::optional<v1::KeyState> key_state(const store& st, const std::string& stage,
                                      const std::string& key) {
  auto s = st.read_state(stage_id(st, stage), key);
  if (!s || !*s)
    return std::nullopt;
  v1::KeyState ks;
  if (!ks.ParseFromString((*s)->key_state))
    return std::nullopt;
  return ks;
}

std::string state_of(const store& st, const std::string& stage,
                     const std::string& key) {
  auto ks = key_state(st, stage, key);
  return ks ? ks->state() : "<no state>";
}

/// Events stage `index` of a running node handled since the node started.
std::uint64_t done_in(node& n, std::size_t index) {
  auto s = n.stats();
  return s && s->stages.size() > index ? s->stages[index].done : 0;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Runs events for keys k and other, overwrites k's state in stage `first`
/// with `garbage` (`on_disk`: without a checksum that holds, as damage on
/// disk leaves it), restarts and publishes more: k's new events must fail
/// into the dead letters naming k, and `other` must go on normally.
void corrupt_state_then_continue(const std::string& name,
                                 const std::string& garbage,
                                 bool on_disk = false) {
  auto dir = temp_dir(name);
  auto reg = test_registry();
  {
    auto n = start_node(dir, reg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(n->publish("in", {make_event("k", "a"), make_event("k", "b"),
                                  make_event("other", "x")}));
    ASSERT_TRUE(wait_drained(*n));
  }
  {
    auto st = open_store(dir, false);
    ASSERT_TRUE(st);
    ASSERT_EQ(state_of(*st, "first", "k"), "a,b,");
    auto r = st->put_raw("state", keys::state_key(stage_id(*st, "first"), "k"),
                         garbage, !on_disk);
    ASSERT_TRUE(r) << r.error().describe();
  }
  {
    auto n = start_node(dir, reg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(
        n->publish("in", {make_event("k", "c"), make_event("other", "y"),
                          make_event("k", "d")}));
    ASSERT_TRUE(wait_drained(*n)) << "the queues did not drain";
    auto s = n->stats();
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->failed) << s->failure;
    EXPECT_EQ(s->stages[0].done, 1u) << "only other's event succeeds";
    EXPECT_EQ(s->stages[0].failed, 2u) << "both of k's events fail";
    // After the failures, `other` is still served by the same node.
    ASSERT_TRUE(n->publish("in", {make_event("other", "z")}));
    ASSERT_TRUE(wait_drained(*n));
  }
  auto st = open_store(dir, true);
  ASSERT_TRUE(st);
  auto letters = dead_letters(*st);
  ASSERT_EQ(letters.size(), 2u);
  std::vector<std::string> payloads;
  for (auto& dl : letters) {
    EXPECT_EQ(dl.stage(), "first");
    EXPECT_EQ(dl.key(), "k");
    EXPECT_TRUE(dl.has_event()) << "the failed event is kept whole";
    payloads.push_back(dl.event().payload());
    ASSERT_EQ(dl.attempts_size(), 1);
    auto& why = dl.attempts(0).error();
    EXPECT_TRUE(contains(why, "'k'")) << why;
    if (on_disk)
      EXPECT_TRUE(contains(why, "in database 'state' fails its checksum"))
          << why;
    else
      EXPECT_TRUE(contains(why, "corrupt") || contains(why, "KeyState")) << why;
  }
  EXPECT_EQ(payloads, (std::vector<std::string>{"c", "d"}));
  // The damaged record is left as it was, for repair: nothing overwrote it.
  auto k = st->read_state(stage_id(*st, "first"), "k");
  if (on_disk) {
    ASSERT_FALSE(k) << "a value failing its checksum was returned";
    EXPECT_EQ(k.error().code, errc::corrupt);
  } else if (garbage.size() >= 8) {
    ASSERT_TRUE(k && *k);
    EXPECT_EQ((*k)->version, keys::get_u64(garbage).value());
    EXPECT_EQ((*k)->key_state, garbage.substr(8));
  } else {
    ASSERT_FALSE(k) << "a state shorter than its version header reads back";
    EXPECT_EQ(k.error().code, errc::corrupt);
  }
  // `other` went on: each of its events applied once, in order, downstream.
  EXPECT_EQ(state_of(*st, "first", "other"), "x,y,z,");
  EXPECT_EQ(state_of(*st, "second", "other"), "3");
  // k's failed events emitted nothing.
  EXPECT_EQ(state_of(*st, "second", "k"), "2");
  EXPECT_EQ(st->queued_total().value(), 0u);
  st.reset();
  fs::remove_all(dir);
}

} // namespace

TEST(CorruptStore,
     AGarbageKeyStateFailsThatKeysEventsNamingTheKeyWhileOtherKeysGoOn) {
  const std::string garbage = "\x08\xff garbage";
  v1::KeyState probe;
  ASSERT_FALSE(probe.ParseFromString(garbage.substr(8)))
      << "the fixture must not decode as a KeyState";
  corrupt_state_then_continue("garbage_state", garbage);
}

TEST(
    CorruptStore,
    AKeyStateShorterThanItsVersionHeaderFailsThatKeysEventsWhileOtherKeysGoOn) {
  corrupt_state_then_continue("short_state", std::string("\x08\xff", 2));
}

TEST(CorruptStore,
     AKeyStateFailingItsChecksumFailsThatKeysEventsNamingItWhileOtherKeysGoOn) {
  // Whole-looking bytes (a version header, a KeyState) without a checksum
  // that holds: never used.
  corrupt_state_then_continue(
      "damaged_state", std::string(7, '\0') + "\x03" + "\x0a\x04a,b,", true);
}

namespace {

/// Runs events, puts `garbage` into the first stage's queue (`on_disk`:
/// without a checksum that holds), restarts and publishes more: the bad
/// entry must land in the dead letters with the reason, and every other
/// event, before and after it, be processed.
void bad_entry_then_continue(const std::string& name,
                             const std::string& garbage, bool on_disk) {
  auto dir = temp_dir(name);
  auto reg = test_registry();
  {
    auto n = start_node(dir, reg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(
        n->publish("in", {make_event("k1", "a"), make_event("k2", "b")}));
    ASSERT_TRUE(wait_drained(*n));
  }
  {
    auto st = open_store(dir, false);
    ASSERT_TRUE(st);
    auto r =
        st->put_raw("queue.first", keys::queue_key({priority::normal, 999999}),
                    garbage, !on_disk);
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_EQ(st->queued_total().value(), 1u);
  }
  {
    auto n = start_node(dir, reg);
    ASSERT_TRUE(n);
    ASSERT_TRUE(
        n->publish("in", {make_event("k1", "c"), make_event("k3", "d")}));
    ASSERT_TRUE(wait_drained(*n, 30s)) << "the queue did not drain";
    auto s = n->stats();
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->failed) << s->failure;
    EXPECT_EQ(s->stages[0].queued_normal + s->stages[0].queued_urgent, 0u);
    ASSERT_TRUE(n->publish("in", {make_event("k2", "e")}));
    ASSERT_TRUE(wait_drained(*n));
  }
  auto st = open_store(dir, true);
  ASSERT_TRUE(st);
  auto letters = dead_letters(*st);
  ASSERT_EQ(letters.size(), 1u);
  auto& dl = letters[0];
  EXPECT_EQ(dl.stage(), "first");
  EXPECT_FALSE(dl.has_event());
  EXPECT_EQ(dl.raw(), garbage) << "the undecodable bytes are kept as they were";
  ASSERT_EQ(dl.attempts_size(), 1);
  auto& why = dl.attempts(0).error();
  EXPECT_TRUE(contains(why, "queue.first")) << why;
  EXPECT_TRUE(contains(why, "999999")) << why;
  EXPECT_TRUE(contains(why, on_disk ? "in database 'queue.first' fails its "
                                      "checksum"
                                    : "not a valid sluice.v1.Event"))
      << why;
  // The other events, before and after the bad entry, were processed.
  EXPECT_EQ(state_of(*st, "first", "k1"), "a,c,");
  EXPECT_EQ(state_of(*st, "first", "k2"), "b,e,");
  EXPECT_EQ(state_of(*st, "first", "k3"), "d,");
  EXPECT_EQ(state_of(*st, "second", "k1"), "2");
  EXPECT_EQ(st->queued_total().value(), 0u);
  st.reset();
  fs::remove_all(dir);
}

} // namespace

TEST(CorruptStore, AnUndecodableQueuedEventGoesToDeadLettersAndTheQueueDrains) {
  const std::string garbage = "\x08\xff garbage";
  v1::Event probe;
  ASSERT_FALSE(probe.ParseFromString(garbage))
      << "the fixture must not decode as an Event";
  bad_entry_then_continue("corrupt_event", garbage, false);
}

TEST(CorruptStore,
     AQueuedEventFailingItsChecksumGoesToDeadLettersAndTheQueueDrains) {
  // An event that would decode, without a checksum that holds: never
  // processed.
  v1::Event ev;
  ev.set_key("k9");
  ev.set_payload("z");
  bad_entry_then_continue("damaged_event", ev.SerializeAsString(), true);
}

TEST(Restart, ANodeStoppedWithABacklogResumesItAndAppliesEveryEventOnce) {
  auto dir = temp_dir("restart");
  auto reg = test_registry();
  constexpr int keys = 40, per_key = 50;
  constexpr std::uint32_t cap = 16;
  append_delay_ms = 2; // slow: the backlog outlives each stop
  {
    auto n = start_node(dir, reg, cap);
    ASSERT_TRUE(n);
    for (int i = 0; i < per_key; ++i) {
      std::vector<event> batch;
      for (int k = 0; k < keys; ++k)
        batch.push_back(make_event("k" + std::to_string(k), std::to_string(i)));
      ASSERT_TRUE(n->publish("in", std::move(batch)));
    }
    // Stop once some events went all the way through (the rest are in
    // flight or queued: 2 ms each, 2,000 of them).
    ASSERT_TRUE(wait_until([&] { return done_in(*n, 1) > 0; }));
  }
  std::uint64_t backlog = 0;
  {
    auto st = open_store(dir, true);
    ASSERT_TRUE(st);
    backlog = st->queued_total().value();
  }
  ASSERT_GT(backlog, 0u) << "the node drained before it was stopped";
  std::cout << "backlog after the first stop: " << backlog << " events\n";
  // Stop twice more part-way, each time with events in flight.
  for (int round = 0; round < 2; ++round) {
    auto n = start_node(dir, reg, cap);
    ASSERT_TRUE(n);
    // Stop once this run has processed some of the backlog itself.
    ASSERT_TRUE(wait_until([&] { return done_in(*n, 0) > 0; }));
    auto s = n->stats();
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->failed) << s->failure;
  }
  append_delay_ms = 0;
  {
    auto n = start_node(dir, reg, cap);
    ASSERT_TRUE(n);
    ASSERT_TRUE(wait_drained(*n)) << "the backlog was not resumed";
    auto s = n->stats();
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->failed) << s->failure;
    EXPECT_EQ(s->stages[0].failed + s->stages[1].failed, 0u);
  }
  auto st = open_store(dir, true);
  ASSERT_TRUE(st);
  std::string expected;
  for (int i = 0; i < per_key; ++i)
    expected += std::to_string(i) + ",";
  for (int k = 0; k < keys; ++k) {
    auto key = "k" + std::to_string(k);
    // Each event applied once and in order in the first stage, and each
    // forwarded event counted once in the second.
    EXPECT_EQ(state_of(*st, "first", key), expected) << key;
    EXPECT_EQ(state_of(*st, "second", key), std::to_string(per_key)) << key;
    auto ks = key_state(*st, "first", key);
    ASSERT_TRUE(ks) << key;
    EXPECT_EQ(ks->events_processed(), static_cast<std::uint64_t>(per_key))
        << key;
  }
  EXPECT_TRUE(dead_letters(*st).empty());
  EXPECT_EQ(st->queued_total().value(), 0u);
  st.reset();
  fs::remove_all(dir);
}
