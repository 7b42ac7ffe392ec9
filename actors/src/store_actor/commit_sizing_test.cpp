// commit_sizing: normal batches sized to a time budget converge to the
// size whose commit takes the budget, never below the floor or above the
// maximum; no budget, or nothing learned, leaves the maximum.
#include "commit_sizing.hpp"

#include <gtest/gtest.h>

using namespace sluice::store_writer;
using namespace std::chrono_literals;

namespace {

/// A commit of `n` records on a disk with a fixed cost (the fsync) of
/// `fixed` and `per` per record.
std::chrono::steady_clock::duration took(std::size_t n,
                                         std::chrono::microseconds fixed,
                                         std::chrono::microseconds per) {
  return fixed + per * static_cast<long>(n);
}

} // namespace

TEST(CommitSizing, WithoutABudgetOrAnythingLearnedTheMaximumHolds) {
  commit_sizing s;
  EXPECT_EQ(s.limit(15ms, 4096, 256), 4096u);
  s.learn(100ms, 4096);
  EXPECT_EQ(s.limit(0ms, 4096, 256), 4096u);
}

TEST(CommitSizing, BatchesConvergeToTheSizeWhoseCommitTakesTheBudget) {
  // 3 ms per commit plus 5 us per record: 15 ms holds 2,400 records.
  commit_sizing s;
  std::size_t n = 4096;
  for (int i = 0; i < 60; ++i) {
    s.learn(took(n, 3000us, 5us), n);
    n = s.limit(15ms, 4096, 256);
  }
  EXPECT_NEAR(static_cast<double>(n), 2400.0, 60.0);
  // A commit of that size takes about the budget.
  auto t = std::chrono::duration_cast<std::chrono::milliseconds>(
      took(n, 3000us, 5us));
  EXPECT_NEAR(static_cast<double>(t.count()), 15.0, 1.0);
}

TEST(CommitSizing, ASlowDiskKeepsTheFloorAndAFastOneTheMaximum) {
  commit_sizing slow;
  for (int i = 0; i < 20; ++i) // 40 ms per fsync alone: over the budget
    slow.learn(took(256, 40000us, 5us), 256);
  EXPECT_EQ(slow.limit(15ms, 4096, 256), 256u);
  commit_sizing fast;
  for (int i = 0; i < 20; ++i) // 4,096 records in 2 ms
    fast.learn(took(4096, 500us, 0us) + 1500us, 4096);
  EXPECT_EQ(fast.limit(15ms, 4096, 256), 4096u);
}

TEST(CommitSizing, ALargeCommitThatRanLongShrinksTheNextOnes) {
  commit_sizing s;
  s.learn(took(4096, 3000us, 5us), 4096); // 23.5 ms
  auto first = s.limit(15ms, 4096, 256);
  EXPECT_LT(first, 4096u);
  EXPECT_GT(first, 256u);
  s.learn(took(4096, 3000us, 50us), 4096); // the disk slowed down
  EXPECT_LT(s.limit(15ms, 4096, 256), first);
}
