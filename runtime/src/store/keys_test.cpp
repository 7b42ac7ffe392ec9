// Key encodings sort as tuples.
#include "sluice/store/keys.hpp"

#include <gtest/gtest.h>

using namespace sluice;

TEST(Keys, QueueKeysSortUrgentFirstThenBySeq) {
  auto u9 = keys::queue_key({priority::urgent, 9});
  auto u10 = keys::queue_key({priority::urgent, 10});
  auto n1 = keys::queue_key({priority::normal, 1});
  auto n300 = keys::queue_key({priority::normal, 300});
  EXPECT_LT(u9, u10);
  EXPECT_LT(u10, n1);
  EXPECT_LT(n1, n300);
  auto back = keys::parse_queue_key(n300);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->seq, 300u);
  EXPECT_EQ(back->priority, priority::normal);
}

TEST(Keys, MalformedQueueKeysAreRejected) {
  EXPECT_FALSE(keys::parse_queue_key("short"));
  EXPECT_FALSE(keys::parse_queue_key(std::string(9, '\x07')));
}

TEST(Keys, StateKeysGroupByStageAndRoundTrip) {
  auto a = keys::state_key(1, "npm/zzz");
  auto b = keys::state_key(2, "npm/aaa");
  EXPECT_LT(a, b);
  auto p = keys::parse_state_key(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, 2u);
  EXPECT_EQ(p->second, "npm/aaa");
}

TEST(Keys, PrintableEscapesBinary) {
  EXPECT_EQ(keys::printable(std::string("a\0b", 3)), "a\\x00b");
}
