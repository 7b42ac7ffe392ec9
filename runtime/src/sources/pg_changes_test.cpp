// wal2json rows to changes: keys, payloads (numbers kept as written, JSON
// nested), transactions and their commit LSNs, malformed rows named.
#include "sluice/sources/pg_changes.hpp"

#include <gtest/gtest.h>

namespace sluice::pg {
namespace {

TEST(PgLsn, ParsesAndFormatsAsPostgreSQLWritesThem) {
  EXPECT_EQ(parse_lsn("16/B374D848"), 0x16B374D848u);
  EXPECT_EQ(parse_lsn("0/0"), 0u);
  EXPECT_EQ(format_lsn(0x16B374D848u), "16/B374D848");
  EXPECT_EQ(format_lsn(*parse_lsn("0/15271F8")), "0/15271F8");
  for (const char* bad : {"", "/", "1/", "/1", "1/x", "1-2", "1/2/3"})
    EXPECT_FALSE(parse_lsn(bad)) << bad;
}

TEST(PgRows, KeyIsTableAndPrimaryKeyWithPublicDropped) {
  EXPECT_EQ(row_key("public.items", {"7"}), "items/7");
  EXPECT_EQ(row_key("sales.orders", {"eu", "42"}), "sales.orders/eu/42");
}

TEST(PgRows, PayloadTypesIntegersBooleansAndJsonKeepsNumericAsText) {
  std::vector<column> cols{
      {"id", "bigint", "9007199254740993", false},
      {"ok", "boolean", "t", false},
      {"price", "numeric(30,3)", "12345678901234567890.125", false},
      {"meta", "jsonb", R"({"a": [1, 2]})", false},
      {"tags", "text[]", "{x,y}", false},
      {"gone", "text", "", true}};
  EXPECT_EQ(row_json(cols),
            R"({"gone":null,"id":9007199254740993,"meta":{"a":[1,2]},)"
            R"("ok":true,"price":"12345678901234567890.125","tags":"{x,y}"})");
}

TEST(PgWal2json, GivesEachTransactionsChangesWithItsCommitLsn) {
  wal2json_decoder d;
  ASSERT_TRUE(d.add(
      "0/10", R"({"action":"B","timestamp":"2026-12-06 23:43:30.5+00"})"));
  ASSERT_TRUE(d.add(
      "0/10",
      R"({"action":"I","schema":"public","table":"items","columns":[{"name":"id","type":"integer","value":1},{"name":"price","type":"numeric","value":1.10}],"pk":[{"name":"id","type":"integer"}]})"));
  ASSERT_TRUE(d.add(
      "0/20",
      R"({"action":"U","schema":"public","table":"items","columns":[{"name":"id","type":"integer","value":1},{"name":"price","type":"numeric","value":123456789012345678901234.5}],"identity":[{"name":"id","type":"integer","value":1}],"pk":[{"name":"id","type":"integer"}]})"));
  EXPECT_TRUE(d.take().empty()) << "nothing before the commit";
  EXPECT_EQ(d.pending(), 2u);
  ASSERT_TRUE(d.add(
      "0/30", R"({"action":"C","timestamp":"2026-12-06 23:43:30.5+00"})"));
  ASSERT_TRUE(d.add("0/30", R"({"action":"B"})"));
  ASSERT_TRUE(d.add(
      "0/38",
      R"({"action":"D","schema":"sales","table":"orders","identity":[{"name":"region","type":"text","value":"eu"},{"name":"n","type":"integer","value":4}],"pk":[{"name":"region","type":"text"},{"name":"n","type":"integer"}]})"));
  ASSERT_TRUE(d.add("0/40", R"({"action":"C"})"));
  auto changes = d.take();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].commit_lsn, 0x30u);
  EXPECT_EQ(changes[0].index, 0u);
  EXPECT_EQ(changes[0].operation, "insert");
  EXPECT_EQ(changes[0].key, "items/1");
  EXPECT_EQ(changes[0].payload, R"({"id":1,"price":"1.10"})")
      << "a numeric keeps the digits PostgreSQL wrote";
  EXPECT_EQ(changes[0].commit_ts_ns, 1796600610500000000);
  EXPECT_EQ(changes[1].index, 1u);
  EXPECT_EQ(changes[1].operation, "update");
  EXPECT_EQ(changes[1].payload,
            R"({"id":1,"price":"123456789012345678901234.5"})");
  EXPECT_EQ(changes[2].commit_lsn, 0x40u);
  EXPECT_EQ(changes[2].index, 0u);
  EXPECT_EQ(changes[2].table, "sales.orders");
  EXPECT_EQ(changes[2].operation, "delete");
  EXPECT_EQ(changes[2].key, "sales.orders/eu/4") << "in the key's order";
  EXPECT_EQ(changes[2].payload, R"({"n":4,"region":"eu"})");
  EXPECT_EQ(d.last_commit(), 0x40u);
}

TEST(PgWal2json, CountsEmptyTransactionsCommitsSoTheSlotCanAdvance) {
  wal2json_decoder d;
  ASSERT_TRUE(d.add("0/50", R"({"action":"B"})"));
  ASSERT_TRUE(d.add("0/58", R"({"action":"C"})"));
  EXPECT_TRUE(d.take().empty());
  EXPECT_EQ(d.last_commit(), 0x58u);
}

TEST(PgWal2json, ARowWithoutAPrimaryKeyBecomesAnErrorToDeadLetter) {
  wal2json_decoder d;
  ASSERT_TRUE(d.add("0/10", R"({"action":"B"})"));
  ASSERT_TRUE(d.add(
      "0/10",
      R"({"action":"I","schema":"public","table":"t","columns":[{"name":"x","type":"integer","value":1}]})"));
  ASSERT_TRUE(d.add("0/20", R"({"action":"C"})"));
  auto changes = d.take();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(changes[0].error.find("table public.t has no primary key"),
            std::string::npos)
      << changes[0].error;
  EXPECT_NE(changes[0].payload.find(R"("table":"t")"), std::string::npos)
      << "the raw row is kept";
}

TEST(PgWal2json, RefusesMalformedRowsNamingTheLsn) {
  wal2json_decoder d;
  auto bad = d.add("0/10", "{not json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::corrupt);
  EXPECT_NE(bad.error().message.find("0/10"), std::string::npos);
  auto unknown = d.add("0/18", R"({"action":"Z"})");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown action 'Z'"),
            std::string::npos);
  EXPECT_FALSE(d.add("zz", R"({"action":"B"})"));
  EXPECT_TRUE(d.add("0/20", R"({"action":"M","prefix":"x"})"))
      << "logical messages are not row changes";
}

TEST(PgWal2json, ParsesCommitTimestampsWithZones) {
  EXPECT_EQ(parse_timestamp("1970-01-01 00:00:01+00"), 1000000000);
  EXPECT_EQ(parse_timestamp("1970-01-01 01:00:01.25+01"), 1250000000);
  EXPECT_EQ(parse_timestamp("1970-01-01 00:00:00-02:30"), 9000000000000);
  EXPECT_EQ(parse_timestamp("yesterday"), 0);
}

} // namespace
} // namespace sluice::pg
