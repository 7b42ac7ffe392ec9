// Tests of the ISO-8601 UTC rendering.
#include "sluice/utc_time.hpp"

#include <gtest/gtest.h>

using namespace sluice;

TEST(UtcTime, RendersNanosecondsAsIsoUtcWithMilliseconds) {
  EXPECT_EQ(utc_time(1796176800413424593), "2026-12-02T02:00:00.413Z");
  EXPECT_EQ(utc_time(999999), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(utc_time(0), "");
}
