#include "dashboard_sessions.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;

TEST(DashboardSessions, ALoginIsFoundByItsIdAndNeverByAnother) {
  dashboard_sessions sessions;
  auto a = sessions.open("console", 8, "127.0.0.1");
  auto b = sessions.open("reader", 1, "127.0.0.2");
  EXPECT_EQ(a.id.size(), 64u);
  EXPECT_EQ(a.csrf.size(), 64u);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.id, a.csrf);
  auto found = sessions.find(a.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->token_name, "console");
  EXPECT_EQ(found->csrf, a.csrf);
  EXPECT_EQ(sessions.find(b.id)->token_name, "reader");
  EXPECT_FALSE(sessions.find(a.id.substr(0, 63)));
  EXPECT_FALSE(sessions.find(""));
  EXPECT_FALSE(sessions.find(a.csrf)); // the CSRF value is no session id
}

TEST(DashboardSessions, IdsAreRandom) {
  dashboard_sessions sessions(8h, 24h, 5000);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.insert(sessions.open("console", 8, "x").id);
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(DashboardSessions, EndIdleAfterMaxAgeAndOnLogout) {
  dashboard_sessions sessions(10s, 60s, 100);
  auto t0 = dashboard_sessions::clock::now();
  auto s = sessions.open("console", 8, "x", t0);
  EXPECT_TRUE(sessions.find(s.id, t0 + 9s)); // used: idle starts again
  EXPECT_TRUE(sessions.find(s.id, t0 + 18s));
  EXPECT_FALSE(sessions.find(s.id, t0 + 29s)); // idle 11 s
  auto old = sessions.open("console", 8, "x", t0);
  for (int i = 1; i <= 6; ++i)
    EXPECT_TRUE(sessions.find(old.id, t0 + std::chrono::seconds(9 * i)));
  EXPECT_FALSE(sessions.find(old.id, t0 + 63s)); // past the maximum age
  auto gone = sessions.open("console", 8, "x");
  EXPECT_TRUE(sessions.close(gone.id));
  EXPECT_FALSE(sessions.find(gone.id));
  EXPECT_FALSE(sessions.close(gone.id));
}

TEST(DashboardSessions, PastCapacityTheLeastRecentlyUsedEnds) {
  dashboard_sessions sessions(1h, 2h, 2);
  auto t0 = dashboard_sessions::clock::now();
  auto a = sessions.open("a", 1, "x", t0);
  auto b = sessions.open("b", 1, "x", t0 + 1s);
  EXPECT_TRUE(sessions.find(a.id, t0 + 2s)); // a is now the most recent
  auto c = sessions.open("c", 1, "x", t0 + 3s);
  EXPECT_EQ(sessions.size(), 2u);
  EXPECT_TRUE(sessions.find(a.id, t0 + 4s));
  EXPECT_FALSE(sessions.find(b.id, t0 + 4s));
  EXPECT_TRUE(sessions.find(c.id, t0 + 4s));
}

TEST(CookieValue, FindsTheNamedCookieOnly) {
  EXPECT_EQ(cookie_value("a=1; sluice_session=abc; b=2", "sluice_session"),
            "abc");
  EXPECT_EQ(cookie_value("sluice_session=x", "sluice_session"), "x");
  EXPECT_FALSE(cookie_value("not_sluice_session=x", "sluice_session"));
  EXPECT_FALSE(cookie_value("", "sluice_session"));
  EXPECT_FALSE(cookie_value("sluice_session", "sluice_session"));
  EXPECT_EQ(cookie_value("sluice_session=", "sluice_session"), "");
}

} // namespace
} // namespace sluice::cli
