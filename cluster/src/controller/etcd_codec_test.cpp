// Request bodies as the gateway wants them: base64, key ranges, txns.
#include "controller/etcd_codec.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using namespace etcd_codec;
using nlohmann::json;

TEST(EtcdCodec, Base64RoundTripsEveryLengthAndRejectsForeignCharacters) {
  EXPECT_EQ(base64_encode("/a"), "L2E=");
  EXPECT_EQ(base64_encode(""), "");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto decoded = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, bytes);
    bytes += static_cast<char>(i * 37);
  }
  auto bad = base64_decode("L2E!");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "not base64 at offset 3: '!'");
  EXPECT_FALSE(base64_decode("L"));
}

TEST(EtcdCodec, PrefixEndIsThePrefixWithItsLastByteRaised) {
  EXPECT_EQ(prefix_end("/w/"), "/w0");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
  EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdCodec, ATxnRequestSpellsCompareTargetsAndOpsAsTheGatewayWants) {
  etcd_txn txn;
  txn.compare.push_back(etcd_compare::mod_revision_is("/a", 2));
  txn.compare.push_back(etcd_compare::missing("/n"));
  txn.compare.push_back({"/v", etcd_compare::target::value,
                         etcd_compare::relation::not_equal, "x", 0});
  txn.success.push_back(etcd_op::put("/a", "v2", 42));
  txn.success.push_back(etcd_op::erase("/n"));
  txn.failure.push_back(etcd_op::range("/p/", true));
  auto j = json::parse(txn_request(txn));
  EXPECT_EQ(j["compare"][0], (json{{"key", "L2E="},
                                   {"target", "MOD"},
                                   {"result", "EQUAL"},
                                   {"mod_revision", "2"}}));
  EXPECT_EQ(j["compare"][1]["target"], "CREATE");
  EXPECT_EQ(j["compare"][1]["create_revision"], "0");
  EXPECT_EQ(j["compare"][2]["result"], "NOT_EQUAL");
  EXPECT_EQ(j["compare"][2]["value"], "eA==");
  EXPECT_EQ(j["success"][0]["request_put"],
            (json{{"key", "L2E="}, {"value", "djI="}, {"lease", "42"}}));
  EXPECT_EQ(j["success"][1]["request_delete_range"]["key"], "L24=");
  EXPECT_EQ(j["failure"][0]["request_range"],
            (json{{"key", "L3Av"}, {"range_end", "L3Aw"}}));
}

} // namespace
} // namespace sluice::cluster
