// Answers decoded, copied from etcd 3.4.23, and answers that are not etcd's.
#include "controller/etcd_answers.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using namespace etcd_codec;
using nlohmann::json;

json ok(std::string_view text) {
  auto answer = parse_answer(200, text);
  EXPECT_TRUE(answer) << answer.error().describe();
  return answer ? *answer : json{};
}

TEST(EtcdAnswers, DecodesARangeWithStringNumbersAndAMissingLease) {
  auto range = decode_range(
      ok(R"({"header":{"cluster_id":"3249","member_id":"3319","revision":"5",)"
         R"("raft_term":"2"},"kvs":[{"key":"L2E=","create_revision":"2",)"
         R"("mod_revision":"5","version":"2","value":"djI="}],"count":"1"})"));
  ASSERT_TRUE(range) << range.error().describe();
  EXPECT_EQ(range->revision, 5);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0], (etcd_kv{"/a", "v2", 2, 5, 2, 0}));
  auto empty = decode_range(ok(R"({"header":{"revision":"2"}})"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdAnswers, AFailedTxnHasNoSucceededFieldAndReturnsItsRanges) {
  auto txn = decode_txn(ok(
      R"({"header":{"revision":"5"},"responses":[{"response_range":{)"
      R"("header":{"revision":"5"},"kvs":[{"key":"L2E=","create_revision":)"
      R"("2","mod_revision":"5","version":"2","value":"djI="}],"count":"1"}}]})"));
  ASSERT_TRUE(txn);
  EXPECT_FALSE(txn->succeeded);
  ASSERT_EQ(txn->ranges.size(), 1u);
  EXPECT_EQ(txn->ranges[0].kvs[0].mod_revision, 5);
  auto won = decode_txn(ok(R"({"header":{"revision":"6"},"succeeded":true,)"
                           R"("responses":[{"response_put":{}}]})"));
  ASSERT_TRUE(won);
  EXPECT_TRUE(won->succeeded);
  EXPECT_EQ(won->revision, 6);
}

TEST(EtcdAnswers, AKeepaliveWithoutTtlIsAnExpiredLease) {
  auto alive = decode_keepalive(
      ok(R"({"result":{"header":{"revision":"2"},"ID":"77","TTL":"5"}})"), 77);
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->count(), 5);
  auto gone = decode_keepalive(ok(R"({"result":{"header":{},"ID":"77"}})"), 77);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, errc::not_found);
  EXPECT_EQ(gone.error().message, "lease 77 has expired or was revoked");
}

TEST(EtcdAnswers, EtcdErrorsKeepTheirMessageAndMapTheirCode) {
  auto missing = parse_answer(
      404, R"({"error":"etcdserver: requested lease not found",)"
           R"("message":"etcdserver: requested lease not found","code":5})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::not_found);
  EXPECT_EQ(missing.error().message,
            "etcd says: etcdserver: requested lease not found (code 5)");
  auto compacted = parse_answer(
      400, R"({"error":"x","message":"etcdserver: mvcc: required revision )"
           R"(has been compacted","code":11})");
  ASSERT_FALSE(compacted);
  EXPECT_EQ(compacted.error().code, errc::not_found);
  auto streamed = parse_answer(
      200,
      R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})");
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code, errc::unavailable);
  EXPECT_EQ(streamed.error().message, "etcd says: no leader (code 14)");
  auto refused =
      parse_answer(400, R"({"error":"bad","message":"bad","code":3})");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
}

TEST(EtcdAnswers, GarbageAnswersAreParseErrorsQuotingTheirStart) {
  auto html = parse_answer(200, "<html>hello</html>");
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().code, errc::parse);
  EXPECT_EQ(html.error().message,
            "answer (HTTP 200) is not a JSON object: '<html>hello</html>'");
  auto status = parse_answer(404, "{}");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "HTTP 404 without an etcd error: '{}'");
  EXPECT_FALSE(parse_answer(200, "[1,2]"));
  auto no_header = decode_range(ok(R"({"kvs":[]})"));
  ASSERT_FALSE(no_header);
  EXPECT_EQ(no_header.error().message, "answer has no header");
  auto bad_number = decode_range(ok(R"({"header":{"revision":"5x"}})"));
  ASSERT_FALSE(bad_number);
  EXPECT_EQ(bad_number.error().message,
            "field 'revision' is not a 64-bit integer: \"5x\"");
  auto bad_key =
      decode_range(ok(R"({"header":{"revision":"5"},"kvs":[{"key":"%%"}]})"));
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().message,
            "field 'key': not base64 at offset 0: '%'");
  EXPECT_FALSE(decode_range(ok(R"({"header":{"revision":"5"},"kvs":7})")));
  EXPECT_FALSE(decode_grant(ok(R"({"header":{},"ID":"0","TTL":"5"})")));
  EXPECT_FALSE(decode_watch(ok(R"({"events":[{"type":"MOVE","kv":{}}]})")));
  EXPECT_FALSE(decode_watch(ok(R"({"events":[{"type":7,"kv":{}}]})")));
}

TEST(EtcdAnswers, WatchMessagesTellCreatedEventsProgressAndCompaction) {
  auto created = decode_watch(
      ok(R"({"result":{"header":{"revision":"7"},"created":true}})"));
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->revision, 7);
  auto events = decode_watch(
      ok(R"({"result":{"header":{"revision":"10"},"events":[{"kv":{"key":)"
         R"("L3cvMQ==","create_revision":"8","mod_revision":"8","version":"1",)"
         R"("value":"b25l"}},{"type":"DELETE","kv":{"key":"L3cvMQ==",)"
         R"("mod_revision":"10"}}]}})"));
  ASSERT_TRUE(events) << events.error().describe();
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].what, etcd_event::kind::put);
  EXPECT_EQ(events->events[0].kv.value, "one");
  EXPECT_EQ(events->events[1].what, etcd_event::kind::erase);
  EXPECT_EQ(events->events[1].kv.key, "/w/1");
  EXPECT_EQ(events->events[1].kv.mod_revision, 10);
  auto compacted = decode_watch(
      ok(R"({"result":{"header":{"raft_term":"2"},"canceled":true,)"
         R"("compact_revision":"9"}})"));
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 9);
}

} // namespace
} // namespace sluice::cluster
