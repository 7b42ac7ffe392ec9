// Unit tests of the cluster's wire helpers: a refusal's errc crosses
// between members with its message; a forwarded event's origin crosses
// whole, and one from an older member has none.
#include "wire.hpp"

#include <gtest/gtest.h>

namespace sluice::cluster {
namespace {

v1::Reply parsed(const std::string& bytes) {
  v1::ClusterMessage m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  EXPECT_TRUE(m.has_reply());
  return m.reply();
}

TEST(Wire, ARefusalKeepsItsKindAndMessageAcrossTheWire) {
  for (auto code : {errc::invalid_argument, errc::config, errc::parse,
                    errc::not_found, errc::storage, errc::unavailable}) {
    auto r = parsed(reply_error(fail(code, "stage 'x' is unknown")));
    EXPECT_FALSE(r.ok());
    auto e = error_of(r);
    EXPECT_EQ(e.code, code);
    EXPECT_EQ(e.message, "stage 'x' is unknown");
  }
}

TEST(Wire, AReplyWithoutAKnownKindIsUnavailable) {
  v1::Reply old_member; // an older member sends no code
  old_member.set_ok(false);
  old_member.set_error("busy");
  EXPECT_EQ(error_of(old_member).code, errc::unavailable);
  EXPECT_EQ(error_of(old_member).message, "busy");
  old_member.set_code(200);
  EXPECT_EQ(error_of(old_member).code, errc::unavailable);
}

TEST(Wire, AnAcceptanceIsOk) {
  EXPECT_TRUE(parsed(reply_ok()).ok());
}

TEST(Wire, AForwardedEventsOriginCrossesWhole) {
  outbox_origin o{1023, 7, (std::uint64_t{1} << 40) + 3, 4'000'000'000u};
  v1::ForwardedEvent ev;
  ev.set_shard(5);
  to_wire(o, *ev.mutable_origin());
  v1::ForwardedEvent back;
  ASSERT_TRUE(back.ParseFromString(ev.SerializeAsString()));
  ASSERT_TRUE(back.has_origin());
  EXPECT_EQ(from_wire(back.origin()), o);
}

TEST(Wire, AForwardedEventOfAnOlderMemberHasNoOrigin) {
  v1::ForwardedEvent old_member; // fields 1-6 only
  old_member.set_stage("parse");
  old_member.set_shard(5);
  old_member.set_seq(42);
  v1::ForwardedEvent back;
  ASSERT_TRUE(back.ParseFromString(old_member.SerializeAsString()));
  EXPECT_FALSE(back.has_origin());
  EXPECT_EQ(back.seq(), 42u);
}

} // namespace
} // namespace sluice::cluster
