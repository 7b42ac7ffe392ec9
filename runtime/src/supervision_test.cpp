#include "sluice/supervision.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(Supervision, AllowsMaxRestartsWithinTheWindowThenRefuses) {
  restart_window w{{restart_strategy::one_for_one, 3, 10000ms}};
  auto t0 = restart_window::clock::time_point{} + 1h;
  EXPECT_TRUE(w.allow(t0));
  EXPECT_TRUE(w.allow(t0 + 1s));
  EXPECT_TRUE(w.allow(t0 + 2s));
  EXPECT_FALSE(w.allow(t0 + 3s));
  EXPECT_EQ(w.exceeded_message(),
            "4 restarts within 10s exceed the intensity (3 in 10s)");
}

TEST(Supervision, OldRestartsLeaveTheWindow) {
  restart_window w{{restart_strategy::one_for_one, 2, 1000ms}};
  auto t0 = restart_window::clock::time_point{} + 1h;
  EXPECT_TRUE(w.allow(t0));
  EXPECT_TRUE(w.allow(t0 + 500ms));
  EXPECT_TRUE(w.allow(t0 + 1200ms)); // the first left the window
  EXPECT_EQ(w.recent(), 2u);
}

TEST(Supervision, StrategiesParseByTheirOtpNames) {
  EXPECT_EQ(parse_restart_strategy("one_for_all"),
            restart_strategy::one_for_all);
  EXPECT_EQ(parse_restart_strategy("rest_for_one"),
            restart_strategy::rest_for_one);
  EXPECT_EQ(parse_restart_strategy("one_for_one"),
            restart_strategy::one_for_one);
  EXPECT_FALSE(parse_restart_strategy("simple_one_for_one"));
}

} // namespace
} // namespace sluice
