// The fixture of the change-feed subscription tests: a real store with one
// stage ("score") keeping a changelog, its feed hub, and helpers to commit
// a key's change and to drain a subscription. Header-only; one test binary.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/event_codec.hpp"
#include "sluice/feed/feed_hub.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice_feed_test {

using namespace sluice;
namespace fs = std::filesystem;

/// Renders a state as a JSON object {"v": "<state>"}.
struct object_state : behaviour {
  void on_event(context&, const event&) override {}
  std::string state_to_json(const std::string& s) const override {
    return "{\"v\":" + json_quote(s) + "}";
  }
};

struct FeedTest : ::testing::Test {
  std::string dir;
  std::unique_ptr<store> st;
  registry reg;
  std::unique_ptr<feed::hub> hub;
  std::uint32_t stage = 0;
  std::map<std::string, std::uint64_t> versions;

  void SetUp() override {
    dir =
        (fs::temp_directory_path()
         / ("sluice_feed_test_" + std::to_string(::getpid()) + "_"
            + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
            .string();
    fs::remove_all(dir);
    ASSERT_TRUE(reg.add<object_state>("obj"));
    open({1'000'000, {}});
  }
  void TearDown() override {
    hub.reset();
    st.reset();
    fs::remove_all(dir);
  }
  void open(changelog_retention keep) {
    hub.reset();
    st.reset();
    auto s = store::open({dir});
    ASSERT_TRUE(s) << s.error().describe();
    st = std::move(*s);
    auto id = st->register_stage("score", "obj", keep);
    ASSERT_TRUE(id);
    stage = *id;
    hub = std::make_unique<feed::hub>(*st, reg, 4);
  }
  /// Commits an event for `key` and its completion writing `state` (or
  /// clearing it).
  void put(const std::string& key, const std::string& state, bool clear = false,
           const std::map<std::string, std::string>& attributes = {}) {
    event ev;
    ev.key = key;
    ev.id = key + "#" + std::to_string(versions[key] + 1);
    auto seq = st->next_seq();
    write_batch a;
    a.appends.push_back({stage, priority::normal, encode_event(ev), key});
    ASSERT_TRUE(st->commit(a));
    v1::KeyState ks;
    ks.set_state(state);
    ks.set_cleared(clear);
    ks.set_last_event_id(ev.id);
    ks.mutable_last_attributes()->insert(attributes.begin(), attributes.end());
    ks.set_events_processed(versions[key] + 1);
    completion c;
    c.stage_id = stage;
    c.key = key;
    c.consumed = {priority::normal, seq};
    c.base_version = versions[key];
    c.key_state = ks.SerializeAsString();
    write_batch b;
    b.completions.push_back(std::move(c));
    auto r = st->commit(b);
    ASSERT_TRUE(r) << r.error().describe();
    ASSERT_EQ(r->consumed.size(), 1u);
    ++versions[key];
  }
  std::unique_ptr<feed_subscription> subscribe(feed_options o = {}) {
    auto s = hub->subscribe("score", "obj", std::move(o));
    EXPECT_TRUE(s) << s.error().describe();
    return s ? std::move(*s) : nullptr;
  }
  /// Events until none is ready within 20 ms.
  std::vector<feed_event> drain(feed_subscription& s, std::size_t max = 64) {
    std::vector<feed_event> out;
    for (;;) {
      auto before = out.size();
      auto r = s.next(out, max, std::chrono::milliseconds(20));
      EXPECT_TRUE(r) << r.error().describe();
      if (!r || out.size() == before)
        return out;
    }
  }
  static std::vector<std::string> kinds(const std::vector<feed_event>& es) {
    std::vector<std::string> out;
    out.reserve(es.size());
    for (auto& e : es)
      out.push_back(std::string(to_string(e.kind)) + ":" + e.key);
    return out;
  }
};

} // namespace sluice_feed_test
