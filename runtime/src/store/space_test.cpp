// A commit refused for lack of space (here the map, --max-data-size) is
// errc::no_space, says so through out_of_space, and leaves its batch as
// it was: the same batch commits once there is room (a serving node's
// store actor keeps it and tries again). A directory larger than the map
// it is opened with is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "sluice/event_codec.hpp"
#include "sluice/store/store.hpp"
#include "sluice/v1/store.pb.h"

using namespace sluice;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = std::uint64_t{1} << 20;

struct StoreSpace : ::testing::Test {
  std::string dir;
  std::unique_ptr<store> st;
  std::uint32_t stage = 0;

  void SetUp() override {
    dir = (fs::temp_directory_path()
           / ("sluice_space_test_" + std::to_string(::getpid())))
              .string();
    fs::remove_all(dir);
  }
  void TearDown() override {
    st.reset();
    fs::remove_all(dir);
  }
  result<void> open_with(std::uint64_t map_size) {
    st.reset();
    store_options o;
    o.dir = dir;
    o.map_size = map_size;
    o.sync = false;
    auto s = store::open(o);
    if (!s)
      return s.error();
    st = std::move(*s);
    auto id = st->register_stage("parse", "package.parse");
    if (!id)
      return id.error();
    stage = *id;
    return {};
  }
  queue_append append(const std::string& key, std::size_t bytes) {
    event ev;
    ev.key = key;
    ev.id = key + "#1";
    ev.payload = std::string(bytes, 'p');
    return {stage, priority::normal, encode_event(ev)};
  }
};

} // namespace

TEST_F(StoreSpace, ACommitRefusedForLackOfSpaceLeavesItsBatchToCommitLater) {
  ASSERT_TRUE(open_with(4 * mib));
  write_batch first;
  for (int i = 0; i < 8; ++i)
    first.appends.push_back(append("k" + std::to_string(i), 8 << 10));
  ASSERT_TRUE(st->commit(first));
  auto queued = st->read_queue(stage, {priority::normal, 0}, 100);
  ASSERT_TRUE(queued);
  ASSERT_EQ(queued->size(), 8u);

  // Completions (one with a durable timer, one ahead of its key's state:
  // deferred) and more appends than the map holds.
  write_batch b;
  for (std::size_t i = 0; i < queued->size(); ++i) {
    completion c;
    c.stage_id = stage;
    c.key = "k" + std::to_string(i);
    c.consumed = (*queued)[i].pos;
    c.base_version = i == 1 ? 5 : 0;
    v1::KeyState ks;
    ks.set_state("state of " + c.key);
    c.key_state = ks.SerializeAsString();
    c.touch_state = true;
    if (i == 0)
      c.timers.push_back({"remind", false, true, 1'000'000'000,
                          priority::normal, "the timer's event"});
    b.completions.push_back(std::move(c));
  }
  for (int i = 0; i < 400; ++i)
    b.appends.push_back(append("big" + std::to_string(i), 16 << 10));
  auto before = b;

  auto r = st->commit(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::no_space) << r.error().describe();
  EXPECT_NE(r.error().message.find(dir), std::string::npos);
  EXPECT_NE(r.error().message.find("the LMDB map is full"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("--max-data-size"), std::string::npos);
  EXPECT_EQ(st->out_of_space(), r.error().message);
  auto use = st->space();
  EXPECT_EQ(use.max, 4 * mib);
  EXPECT_GT(use.used, 0u);
  EXPECT_LE(use.used, use.max);

  // The batch is as it was: nothing moved out, no deferral counted.
  ASSERT_EQ(b.appends.size(), before.appends.size());
  for (std::size_t i = 0; i < b.appends.size(); ++i)
    EXPECT_EQ(b.appends[i].event_bytes, before.appends[i].event_bytes);
  ASSERT_EQ(b.completions.size(), before.completions.size());
  for (std::size_t i = 0; i < b.completions.size(); ++i) {
    EXPECT_EQ(b.completions[i].key_state, before.completions[i].key_state);
    EXPECT_EQ(b.completions[i].deferrals, 0u);
  }
  ASSERT_EQ(b.completions[0].timers.size(), 1u);
  EXPECT_EQ(b.completions[0].timers[0].event_bytes, "the timer's event");
  // Nothing of it was written.
  auto still = st->read_queue(stage, {priority::normal, 0}, 1000);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->size(), 8u);

  // With room (a larger map), the same batch commits.
  ASSERT_TRUE(open_with(64 * mib));
  // Stage ids are stable across opens: the batch still names this stage.
  auto ok = st->commit(b);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(st->out_of_space(), "");
  EXPECT_EQ(ok->consumed.size(), 7u);
  ASSERT_EQ(ok->deferred.size(), 1u);
  EXPECT_EQ(ok->deferred[0].deferrals, 1u);
  EXPECT_EQ(b.completions[1].deferrals, 0u);
  ASSERT_EQ(ok->timers.size(), 1u);
  // The supervisor is told the time only; the event is stored.
  EXPECT_EQ(ok->timers[0].op.event_bytes, "");
  EXPECT_EQ(ok->timers[0].op.due_ns, 1'000'000'000);
  auto after = st->read_queue(stage, {priority::normal, 0}, 1000);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), 1u + 400u); // the deferred one's entry stays
}

TEST_F(StoreSpace, ADirectoryLargerThanTheMapItIsOpenedWithIsRefused) {
  ASSERT_TRUE(open_with(64 * mib));
  write_batch b;
  for (int i = 0; i < 400; ++i)
    b.appends.push_back(append("big" + std::to_string(i), 16 << 10));
  ASSERT_TRUE(st->commit(b));
  auto used = st->space().used;
  ASSERT_GT(used, 4 * mib);
  auto r = open_with(4 * mib);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find(dir + ": the data already takes "
                                   + std::to_string(used >> 20) + " MiB"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("(4 MiB, --max-data-size)"),
            std::string::npos)
      << r.error().message;
  // A larger map opens it, everything there.
  ASSERT_TRUE(open_with(64 * mib));
  auto q = st->read_queue(stage, {priority::normal, 0}, 1000);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 400u);
}
