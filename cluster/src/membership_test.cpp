#include "membership.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sluice::cluster {
namespace {

using namespace std::chrono_literals;
using clock_type = membership::clock;

const clock_type::time_point t0{std::chrono::hours(1)};
const detection_options opts{}; // 200 ms, suspect 800 ms, down 1500 ms

member node(std::string name, std::uint64_t incarnation = 1,
            member_status status = member_status::up) {
  auto address = "127.0.0.1:" + std::to_string(7000 + name.size());
  return member{std::move(name), std::move(address), incarnation, status};
}

member_status status_of(const membership& m, std::string_view name) {
  auto* entry = m.find(name);
  EXPECT_NE(entry, nullptr) << name;
  return entry ? entry->status : member_status::left;
}

/// One round of full-table gossip: every node sends its table to every other.
void gossip_round(std::vector<membership*> nodes, clock_type::time_point now) {
  for (auto* from : nodes)
    for (auto* to : nodes)
      if (from != to) {
        to->merge(from->members(), from->epoch(), now);
        to->heard_from(from->self_name(), now);
      }
}

TEST(Membership, ThreeNodesConvergeOnTheSameTableAndEpochByGossip) {
  membership a{node("a"), opts, t0}, b{node("b"), opts, t0},
      c{node("c"), opts, t0};
  // b and c join through a; each learns a's table in the handshake.
  EXPECT_TRUE(a.admit(b.self(), t0));
  b.merge(a.members(), a.epoch(), t0);
  EXPECT_TRUE(a.admit(c.self(), t0 + 10ms));
  c.merge(a.members(), a.epoch(), t0 + 10ms);
  c.leave(); // a local change on c that the others must learn
  for (int round = 1; round <= 3; ++round)
    gossip_round({&a, &b, &c}, t0 + round * opts.heartbeat);
  EXPECT_EQ(a.members(), b.members());
  EXPECT_EQ(a.members(), c.members());
  EXPECT_EQ(a.epoch(), b.epoch());
  EXPECT_EQ(a.epoch(), c.epoch());
  ASSERT_EQ(a.members().size(), 3u);
  EXPECT_EQ(status_of(b, "a"), member_status::up);
  EXPECT_EQ(status_of(a, "c"), member_status::leaving);
  // Quiet gossip changes nothing any more.
  auto epoch = a.epoch();
  EXPECT_FALSE(b.merge(a.members(), a.epoch(), t0 + 1s));
  EXPECT_EQ(b.epoch(), epoch);
}

TEST(Membership, GossipConvergesWhateverHappenedBeforeIt) {
  std::mt19937 rng{20240611};
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<membership> nodes;
    for (auto name : {"a", "b", "c", "d"})
      nodes.emplace_back(node(name), opts, t0);
    for (std::size_t i = 1; i < nodes.size(); ++i)
      nodes[0].admit(nodes[i].self(), t0);
    auto pick = [&] { return rng() % nodes.size(); };
    auto now = t0;
    // Local events and partial gossip, in a random order.
    for (int step = 0; step < 60; ++step) {
      now += std::chrono::milliseconds(rng() % 400);
      auto& n = nodes[pick()];
      auto& other = nodes[pick()];
      switch (rng() % 6) {
      case 0:
        n.tick(now);
        break;
      case 1:
        n.lost_contact(other.self_name(), now);
        break;
      case 2:
        if (rng() % 8 == 0)
          n.leave();
        break;
      default:
        n.merge(other.members(), other.epoch(), now);
        n.heard_from(other.self_name(), now);
      }
    }
    // Then quiet gossip: every node ends on the same table and epoch.
    for (int round = 0; round < 4; ++round)
      for (auto& from : nodes)
        for (auto& to : nodes)
          if (&from != &to)
            to.merge(from.members(), from.epoch(), now);
    for (auto& n : nodes) {
      EXPECT_EQ(n.members(), nodes[0].members()) << "trial " << trial;
      EXPECT_EQ(n.epoch(), nodes[0].epoch()) << "trial " << trial;
    }
  }
}

TEST(Membership, ASilentMemberBecomesSuspectThenDownWithinTheDetectionTime) {
  ASSERT_LT(opts.down_after, 2s);
  membership a{node("a"), opts, t0};
  a.admit(node("b"), t0);
  auto epoch = a.epoch();
  EXPECT_TRUE(a.tick(t0 + opts.suspect_after - 1ms).empty());
  EXPECT_EQ(status_of(a, "b"), member_status::up);
  EXPECT_EQ(a.epoch(), epoch);
  EXPECT_EQ(a.tick(t0 + opts.suspect_after), std::vector<std::string>{"b"});
  EXPECT_EQ(status_of(a, "b"), member_status::suspect);
  EXPECT_EQ(a.epoch(), epoch + 1);
  EXPECT_TRUE(a.tick(t0 + opts.down_after - 1ms).empty());
  EXPECT_EQ(status_of(a, "b"), member_status::suspect);
  EXPECT_EQ(a.tick(t0 + opts.down_after), std::vector<std::string>{"b"});
  EXPECT_EQ(status_of(a, "b"), member_status::down);
  EXPECT_EQ(a.epoch(), epoch + 2);
  EXPECT_TRUE(a.tick(t0 + 10s).empty());
  EXPECT_EQ(status_of(a, "a"), member_status::up); // never suspects itself
}

TEST(Membership, AMemberThatIsHeardFromIsNotSuspected) {
  membership a{node("a"), opts, t0};
  a.admit(node("b"), t0);
  for (auto t = t0; t < t0 + 5s; t += opts.heartbeat) {
    a.heard_from("b", t);
    EXPECT_TRUE(a.tick(t + opts.heartbeat).empty());
  }
  // A silent member that jumps straight past down_after goes down at once.
  EXPECT_EQ(a.tick(t0 + 5s + opts.down_after), std::vector<std::string>{"b"});
  EXPECT_EQ(status_of(a, "b"), member_status::down);
}

TEST(Membership, AMemberLearnedThroughGossipIsTimedFromWhenItWasLearned) {
  membership a{node("a"), opts, t0}, b{node("b"), opts, t0};
  b.admit(node("c"), t0);
  a.merge(b.members(), b.epoch(), t0 + 10s);
  EXPECT_TRUE(a.tick(t0 + 10s).empty());
  auto changed = a.tick(t0 + 10s + opts.suspect_after);
  EXPECT_EQ(changed, (std::vector<std::string>{"b", "c"}));
}

TEST(Membership, ASuspectedMemberRefutesWithAHigherIncarnation) {
  membership a{node("a"), opts, t0}, b{node("b", 3), opts, t0};
  a.admit(b.self(), t0);
  b.admit(a.self(), t0);
  a.tick(t0 + opts.suspect_after);
  ASSERT_EQ(status_of(a, "b"), member_status::suspect);
  // b hears that it is suspected and refutes.
  EXPECT_TRUE(b.merge(a.members(), a.epoch(), t0 + 900ms));
  EXPECT_EQ(b.self().incarnation, 4u);
  EXPECT_EQ(b.self().status, member_status::up);
  // The refutation wins when gossiped back, and restarts b's timer.
  EXPECT_TRUE(a.merge(b.members(), b.epoch(), t0 + 1s));
  EXPECT_EQ(status_of(a, "b"), member_status::up);
  EXPECT_EQ(a.find("b")->incarnation, 4u);
  EXPECT_TRUE(a.tick(t0 + 1s + opts.suspect_after - 1ms).empty());
  EXPECT_EQ(a.members(), b.members());
  EXPECT_EQ(a.epoch(), b.epoch());
  // Down at an incarnation below the refutation no longer matters.
  auto stale = a.members();
  stale[1].incarnation = 3;
  stale[1].status = member_status::down;
  EXPECT_FALSE(a.merge(stale, 0, t0 + 1s));
  EXPECT_FALSE(b.merge(stale, 0, t0 + 1s));
  EXPECT_EQ(b.self().incarnation, 4u);
}

TEST(Membership, ASuspicionDoesNotOutrankALeave) {
  membership a{node("a"), opts, t0}, b{node("b"), opts, t0};
  a.admit(b.self(), t0);
  b.leave();
  a.lost_contact("b", t0);
  b.merge(a.members(), a.epoch(), t0);
  EXPECT_EQ(b.self().status, member_status::leaving);
  EXPECT_EQ(b.self().incarnation, 1u); // leaving outranks suspect: no refutal
  EXPECT_TRUE(a.merge(b.members(), b.epoch(), t0));
  EXPECT_EQ(status_of(a, "b"), member_status::leaving);
}

TEST(Membership, ARestartedMemberWithAHigherIncarnationIsUpAgain) {
  membership a{node("a"), opts, t0}, c{node("c"), opts, t0};
  a.admit(node("b", 1), t0);
  a.tick(t0 + opts.down_after);
  ASSERT_EQ(status_of(a, "b"), member_status::down);
  c.merge(a.members(), a.epoch(), t0 + opts.down_after);
  ASSERT_EQ(status_of(c, "b"), member_status::down);
  // b restarts with a new incarnation and joins through a.
  auto reborn = node("b", 2);
  reborn.address = "127.0.0.1:9999";
  EXPECT_TRUE(a.admit(reborn, t0 + 3s));
  EXPECT_EQ(*a.find("b"), reborn);
  EXPECT_TRUE(a.tick(t0 + 3s).empty());
  // Gossip of the old life (down at incarnation 1) no longer matters, and
  // the new life wins where the old one was down.
  EXPECT_FALSE(a.merge({node("b", 1, member_status::down)}, 0, t0 + 3s));
  EXPECT_EQ(status_of(a, "b"), member_status::up);
  EXPECT_TRUE(c.merge(a.members(), a.epoch(), t0 + 3s));
  EXPECT_EQ(*c.find("b"), reborn);
  // A stale join (the old incarnation) is refused.
  EXPECT_FALSE(a.admit(node("b", 1), t0 + 3s));
  EXPECT_EQ(*a.find("b"), reborn);
}

TEST(Membership, ADownMemberKeepsItsShardsButALeavingOneDoesNot) {
  membership a{node("a"), opts, t0};
  for (auto name : {"b", "c", "d", "e"})
    a.admit(node(name), t0);
  a.heard_from("c", t0 + 1s);
  a.heard_from("d", t0 + 1s);
  a.heard_from("e", t0 + 1s);
  a.tick(t0 + opts.down_after);              // b down
  EXPECT_TRUE(a.lost_contact("c", t0 + 1s)); // c suspect
  a.merge({node("d", 1, member_status::leaving)}, 0, t0 + 1s);
  EXPECT_TRUE(a.mark_left("e"));
  EXPECT_EQ(status_of(a, "b"), member_status::down);
  EXPECT_EQ(status_of(a, "c"), member_status::suspect);
  EXPECT_EQ(status_of(a, "d"), member_status::leaving);
  EXPECT_EQ(status_of(a, "e"), member_status::left);
  EXPECT_EQ(a.shard_owners(), (std::vector<std::string>{"a", "b", "c"}));
  // Gossip goes to every other member that has not left.
  std::vector<std::string> peers;
  for (auto* p : a.peers())
    peers.push_back(p->name);
  EXPECT_EQ(peers, (std::vector<std::string>{"b", "c", "d"}));
  a.leave();
  EXPECT_EQ(a.self().status, member_status::leaving);
  EXPECT_EQ(a.shard_owners(), (std::vector<std::string>{"b", "c"}));
  a.finish_leave();
  EXPECT_EQ(a.self().status, member_status::left);
}

TEST(Membership, MoreSevereStatusWinsAtEqualIncarnation) {
  membership a{node("a"), opts, t0};
  a.admit(node("b", 5), t0);
  auto says = [&](member_status s, std::uint64_t incarnation = 5) {
    return a.merge({node("b", incarnation, s)}, 0, t0);
  };
  EXPECT_TRUE(says(member_status::suspect));
  EXPECT_FALSE(says(member_status::up));
  EXPECT_EQ(status_of(a, "b"), member_status::suspect);
  EXPECT_TRUE(says(member_status::down));
  EXPECT_FALSE(says(member_status::suspect));
  EXPECT_TRUE(says(member_status::leaving));
  EXPECT_FALSE(says(member_status::down));
  EXPECT_TRUE(says(member_status::left));
  EXPECT_FALSE(says(member_status::leaving));
  EXPECT_EQ(status_of(a, "b"), member_status::left);
  // A lower incarnation never wins; a higher one always does.
  EXPECT_FALSE(says(member_status::left, 4));
  EXPECT_TRUE(says(member_status::up, 6));
  EXPECT_EQ(status_of(a, "b"), member_status::up);
  EXPECT_EQ(to_string(member_status::leaving), "leaving");
}

TEST(Membership, LostContactSuspectsAtOnce) {
  membership a{node("a"), opts, t0};
  a.admit(node("b"), t0);
  auto epoch = a.epoch();
  EXPECT_TRUE(a.lost_contact("b", t0 + 1ms));
  EXPECT_EQ(status_of(a, "b"), member_status::suspect);
  EXPECT_EQ(a.epoch(), epoch + 1);
  EXPECT_FALSE(a.lost_contact("b", t0 + 2ms));
  EXPECT_FALSE(a.lost_contact("nobody", t0 + 2ms));
  EXPECT_FALSE(a.lost_contact("a", t0 + 2ms));
  EXPECT_EQ(a.epoch(), epoch + 1);
  // It then goes down on the usual schedule of silence.
  EXPECT_EQ(a.tick(t0 + opts.down_after), std::vector<std::string>{"b"});
  EXPECT_EQ(status_of(a, "b"), member_status::down);
}

} // namespace
} // namespace sluice::cluster
