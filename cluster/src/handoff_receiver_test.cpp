// The hand-off receiver's answers that need no store: a begin for shards
// owned here already (a resumed hand-off whose commit the sender never heard)
// and chunks or commits of a transfer it does not know. Each must reach the
// sender at once; a lost answer leaves the sender retrying for ever.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "cluster_state.hpp"
#include "sluice/placement.hpp"
#include "sluice/v1/cluster.pb.h"

namespace sluice::cluster {
namespace {

/// A cluster actor that only receives hand-off messages from member "b".
caf::behavior receiver(cluster_actor* self, std::shared_ptr<placement> place) {
  self->state.place = std::move(place);
  self->state.log = spdlog::default_logger();
  return {[self](std::string& bytes) -> caf::result<std::string> {
    v1::ClusterMessage m;
    if (!m.ParseFromString(bytes))
      return std::string("unparsable");
    return receive_handoff(self, "b", m);
  }};
}

struct HandoffReceiver : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<placement> place = std::make_shared<placement>();

  /// The receiver's reply to `m`, or a failed test when none came in 5 s.
  v1::Reply ask(const v1::ClusterMessage& m) {
    auto r = sys.spawn(receiver, place);
    caf::scoped_actor self{sys};
    v1::Reply out;
    self->request(r, std::chrono::seconds(5), m.SerializeAsString())
        .receive(
            [&](std::string& bytes) {
              v1::ClusterMessage a;
              EXPECT_TRUE(a.ParseFromString(bytes) && a.has_reply()) << bytes;
              out = a.reply();
            },
            [&](caf::error& e) {
              ADD_FAILURE() << "no answer: " << sys.render(e);
            });
    self->send_exit(r, caf::exit_reason::user_shutdown);
    return out;
  }
};

TEST_F(HandoffReceiver, ABeginForShardsOwnedHereIsAnsweredAlreadyOwned) {
  place->set(7, shard_state::owned);
  place->set(9, shard_state::owned);
  v1::ClusterMessage m;
  auto* b = m.mutable_handoff_begin();
  b->set_from("b");
  b->set_transfer(3);
  b->add_shards(7);
  b->add_shards(9);
  b->set_epoch(2);
  auto reply = ask(m);
  EXPECT_TRUE(reply.ok()) << reply.error();
  EXPECT_TRUE(reply.already_owned());
}

TEST_F(HandoffReceiver, AChunkOfAnUnknownTransferIsRefusedWithAReason) {
  v1::ClusterMessage m;
  auto* c = m.mutable_handoff_chunk();
  c->set_from("b");
  c->set_transfer(41);
  auto reply = ask(m);
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("unknown transfer 41"), std::string::npos)
      << reply.error();
}

TEST_F(HandoffReceiver, ACommitOfAnUnknownTransferIsRefusedWithAReason) {
  v1::ClusterMessage m;
  auto* c = m.mutable_handoff_commit();
  c->set_from("b");
  c->set_transfer(42);
  c->add_shards(7);
  c->set_epoch(2);
  auto reply = ask(m);
  EXPECT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("unknown transfer 42"), std::string::npos)
      << reply.error();
}

} // namespace
} // namespace sluice::cluster
