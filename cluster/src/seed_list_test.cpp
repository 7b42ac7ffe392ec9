// Unit tests of the seed list: parsing, this member's own address however
// it is spelled, repeats, who may start a cluster, the refusals, and the
// decision to form. Names resolve through a fake table, never DNS.
#include "seed_list.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <map>

namespace sluice::cluster {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// localhost is 127.0.0.1 and ::1; node-a is 10.0.0.1 (names in any case,
/// as in DNS); IPs are themselves; anything else does not resolve.
std::vector<std::string> fake_resolve(std::string host) {
  for (auto& c : host)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, std::vector<std::string>> table{
      {"localhost", {"127.0.0.1", "::1"}},
      {"node-a", {"10.0.0.1"}},
      {"node-a.example", {"10.0.0.1"}},
  };
  if (auto i = table.find(host); i != table.end())
    return i->second;
  if (host.find_first_not_of("0123456789.:abcdef") == std::string::npos)
    return {host};
  return {};
}

const std::vector<std::string> three{"127.0.0.1:7401", "127.0.0.1:7402",
                                     "127.0.0.1:7403"};

seed_plan plan_for(const std::string& listen,
                   const std::vector<std::string>& seeds,
                   bool hosts_shards = true) {
  auto p = plan_seeds(listen, seeds, hosts_shards, fake_resolve);
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : seed_plan{};
}

std::string refusal(const std::string& listen,
                    const std::vector<std::string>& seeds,
                    bool hosts_shards = true) {
  auto p = plan_seeds(listen, seeds, hosts_shards, fake_resolve);
  EXPECT_FALSE(p) << listen << " with " << seeds.size() << " seeds passed";
  return p ? std::string() : p.error().message;
}

TEST(SeedList, ParsesHostAndPortAndRefusesEachMalformedValueByName) {
  auto ok = parse_host_port("--join", "127.0.0.1:7401");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->host, "127.0.0.1");
  EXPECT_EQ(ok->port, 7401);
  auto v6 = parse_host_port("--join", "[::1]:7401");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  for (std::string bad :
       {"", "node-a", ":7401", "node-a:", "node-a:0", "node-a:65536",
        "node-a:99999999", "node-a:74x1", "node a:7401", "[]:7401"}) {
    auto r = parse_host_port("--join", bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_NE(r.error().message.find("--join: '" + bad + "'"),
              std::string::npos)
        << r.error().message;
  }
  EXPECT_NE(
      parse_host_port("--join", "node-a:0").error().message.find("port 0"),
      std::string::npos);
}

TEST(SeedList, EveryMemberGivenTheSameListSkipsItsOwnAddressAndOnlyTheFirst) {
  auto a = plan_for("127.0.0.1:7401", three);
  auto b = plan_for("127.0.0.1:7402", three);
  auto c = plan_for("127.0.0.1:7403", three);
  EXPECT_EQ(a.others,
            (std::vector<std::string>{"127.0.0.1:7402", "127.0.0.1:7403"}));
  EXPECT_EQ(b.others,
            (std::vector<std::string>{"127.0.0.1:7401", "127.0.0.1:7403"}));
  EXPECT_EQ(c.others,
            (std::vector<std::string>{"127.0.0.1:7401", "127.0.0.1:7402"}));
  EXPECT_EQ(a.own, "127.0.0.1:7401");
  EXPECT_EQ(b.own, "127.0.0.1:7402");
  EXPECT_TRUE(a.may_form);
  EXPECT_FALSE(b.may_form);
  EXPECT_FALSE(c.may_form);
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_NE(b.notes[0].find("127.0.0.1:7402 is this member's own address"),
            std::string::npos);
}

TEST(SeedList, ItsOwnAddressIsRecognisedHoweverItIsSpelled) {
  for (std::string own : {"localhost:7401", "LOCALHOST:7401", "127.0.0.1:07401",
                          "[::ffff:127.0.0.1]:7401"}) {
    auto p = plan_for("127.0.0.1:7401", {own, "127.0.0.1:7402"});
    EXPECT_EQ(p.own, own);
    EXPECT_EQ(p.others, std::vector<std::string>{"127.0.0.1:7402"}) << own;
    EXPECT_TRUE(p.may_form) << own;
  }
  auto by_name = plan_for("node-a:7401", {"10.0.0.1:7401", "10.0.0.2:7401"});
  EXPECT_EQ(by_name.own, "10.0.0.1:7401");
  EXPECT_TRUE(by_name.may_form);
  // Same host, another port: another member.
  auto other_port = plan_for("localhost:7401", {"127.0.0.1:7411"});
  EXPECT_TRUE(other_port.own.empty());
  EXPECT_FALSE(other_port.may_form);
  // 127.0.0.2 and ::1 are other addresses, even on this machine: a socket
  // bound to 127.0.0.1 does not answer there.
  for (std::string other : {"127.0.0.2:7401", "[::1]:7401"})
    EXPECT_TRUE(plan_for("127.0.0.1:7401", {other}).own.empty()) << other;
}

TEST(SeedList, RepeatsOfOneMemberAreDroppedAndNamesThatDoNotResolveAreKept) {
  auto p = plan_for("127.0.0.1:7403",
                    {"node-a:7401", "10.0.0.1:7401", "node-a.example:7401",
                     "later.invalid:7402", "127.0.0.1:7403"});
  EXPECT_EQ(p.others,
            (std::vector<std::string>{"node-a:7401", "later.invalid:7402"}));
  EXPECT_EQ(p.notes.size(), 3u);
  EXPECT_FALSE(p.may_form);
}

TEST(SeedList, NoListOrOnlyItsOwnAddressStartsANewCluster) {
  auto none = plan_for("127.0.0.1:7401", {});
  EXPECT_TRUE(none.may_form);
  EXPECT_TRUE(none.others.empty());
  auto itself = plan_for("127.0.0.1:7401", {"localhost:7401"});
  EXPECT_TRUE(itself.may_form);
  EXPECT_TRUE(itself.others.empty());
  EXPECT_EQ(itself.own, "localhost:7401");
}

TEST(SeedList, AProxyThatCouldOnlyStartAClusterIsRefusedByName) {
  auto no_join = refusal("127.0.0.1:7409", {}, false);
  EXPECT_NE(no_join.find("--no-shards needs --join"), std::string::npos);
  auto only_self = refusal("127.0.0.1:7409", {"localhost:7409"}, false);
  EXPECT_NE(only_self.find("only this member's own address (localhost:7409)"),
            std::string::npos)
      << only_self;
  auto first = refusal("127.0.0.1:7401", three, false);
  EXPECT_NE(first.find("the first --join address, 127.0.0.1:7401"),
            std::string::npos)
      << first;
  auto later = plan_for("127.0.0.1:7403", three, false);
  EXPECT_FALSE(later.may_form);
  EXPECT_EQ(later.others.size(), 2u);
}

TEST(SeedList, ABadEntryOrAnUnreachableListenAddressIsRefusedByName) {
  auto bad = refusal("127.0.0.1:7401", {"127.0.0.1:7402", "127.0.0.1:0"});
  EXPECT_NE(bad.find("--join: '127.0.0.1:0'"), std::string::npos) << bad;
  auto port = refusal("127.0.0.1:0", three);
  EXPECT_NE(port.find("--listen: '127.0.0.1:0'"), std::string::npos) << port;
  auto wild = refusal("0.0.0.0:7401", three);
  EXPECT_NE(wild.find("--listen: '0.0.0.0:7401'"), std::string::npos) << wild;
}

seed_state silent(const std::string& address, steady::time_point since) {
  seed_state s;
  s.address = address;
  s.silent_since = since;
  s.error = "connection refused";
  return s;
}

seed_state unformed(const std::string& address, const std::string& name,
                    bool may_form) {
  seed_state s;
  s.address = address;
  s.unformed = true;
  s.name = name;
  s.may_form = may_form;
  return s;
}

TEST(SeedList, TheFirstSeedFormsAtOnceWhenEveryOtherSeedAnswersUnformed) {
  auto a = plan_for("127.0.0.1:7401", three);
  auto t0 = steady::now();
  std::vector<seed_state> seen{unformed("127.0.0.1:7402", "b", false),
                               unformed("127.0.0.1:7403", "c", false)};
  EXPECT_TRUE(should_form(a, "a", false, seen, t0, 5000ms));
  // b and c, given the same list, never form, whatever they hear.
  auto b = plan_for("127.0.0.1:7402", three);
  std::vector<seed_state> nobody{silent("127.0.0.1:7401", t0),
                                 silent("127.0.0.1:7403", t0)};
  EXPECT_FALSE(should_form(b, "b", false, nobody, t0 + 3600s, 5000ms));
}

TEST(SeedList, TheFirstSeedWaitsForSilentSeedsUntilTheTimeout) {
  auto a = plan_for("127.0.0.1:7401", three);
  auto t0 = steady::now();
  std::vector<seed_state> seen{unformed("127.0.0.1:7402", "b", false),
                               silent("127.0.0.1:7403", t0)};
  EXPECT_FALSE(should_form(a, "a", false, seen, t0 + 4999ms, 5000ms));
  EXPECT_TRUE(should_form(a, "a", false, seen, t0 + 5000ms, 5000ms));
  // Alone in its list, it forms at once.
  EXPECT_TRUE(should_form(plan_for("127.0.0.1:7401", {"localhost:7401"}), "a",
                          false, {}, t0, 5000ms));
}

TEST(SeedList, OfTwoSeedsThatMayBothFormTheSmallerNameForms) {
  // Lists in different orders: a is first in its own, b in its own.
  auto a = plan_for("127.0.0.1:7401", {"127.0.0.1:7401", "127.0.0.1:7402"});
  auto b = plan_for("127.0.0.1:7402", {"127.0.0.1:7402", "127.0.0.1:7401"});
  ASSERT_TRUE(a.may_form && b.may_form);
  auto t = steady::now();
  EXPECT_TRUE(should_form(a, "a", false,
                          {unformed("127.0.0.1:7402", "b", true)}, t, 5000ms));
  EXPECT_FALSE(should_form(b, "b", false,
                           {unformed("127.0.0.1:7401", "a", true)}, t, 5000ms));
}

TEST(SeedList, AFirstSeedWithANewDataDirectoryWaitsBesideSeedsThatHoldShards) {
  // A cluster restarting with its first seed on a new disk: forming would
  // claim every shard beside the members that own them.
  auto a = plan_for("127.0.0.1:7401", three);
  auto t0 = steady::now();
  auto b = unformed("127.0.0.1:7402", "b", false);
  b.has_shards = true;
  std::vector<seed_state> seen{b, unformed("127.0.0.1:7403", "c", false)};
  EXPECT_FALSE(should_form(a, "a", false, seen, t0 + 3600s, 5000ms));
  EXPECT_TRUE(should_form(a, "a", true, seen, t0, 5000ms));
  auto line =
      describe_wait(a, false, seen, t0, std::chrono::system_clock::now());
  EXPECT_NE(line.find("127.0.0.1:7402 (b) is up but in no cluster either, and "
                      "holds shards"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("has a new data directory and will not start"),
            std::string::npos)
      << line;
}

TEST(SeedList, TheWaitingLineNamesEachSeedSinceWhenAndWhoMayForm) {
  auto b = plan_for("127.0.0.1:7402", three);
  auto t0 = steady::now();
  auto wall = std::chrono::system_clock::from_time_t(12 * 3600 + 5); // 12:00:05
  auto line = describe_wait(
      b, false,
      {silent("127.0.0.1:7401", t0), unformed("127.0.0.1:7403", "c", false)},
      t0 + 5s, wall);
  EXPECT_NE(line.find("127.0.0.1:7401 has not answered for 5 s (since "
                      "12:00:00 UTC): connection refused"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("127.0.0.1:7403 (c) is up but in no cluster either"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("Only the first seed, 127.0.0.1:7401, can start"),
            std::string::npos)
      << line;
}

} // namespace
} // namespace sluice::cluster
