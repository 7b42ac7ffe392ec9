// Unit tests of the cluster's wire helpers: a refusal's errc crosses
// between members with its message.
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

} // namespace
} // namespace sluice::cluster
