// `sources:` and `--source URL`: what a PostgreSQL source reads, and every
// setting that cannot work refused with its file and line or parameter.
#include <gtest/gtest.h>

#include "sluice/topology.hpp"
#include "topology_test_support.hpp"

namespace sluice::topology_test {
namespace {

const std::string head = "pipeline: p\ntopics: [rows, other]\n";

std::string with_source(const std::string& body) {
  return head + "sources:\n  - postgres: \"host=127.0.0.1 dbname=shop\"\n"
         + body;
}

TEST(TopologySources, ReadsAPostgresSource) {
  auto t = parse_topology(with_source("    slot: shop\n"
                                      "    tables: [items, sales.orders]\n"
                                      "    topic: other\n"
                                      "    attributes: {tenant: acme}\n"
                                      "    create_slot: true\n"
                                      "    snapshot: true\n"
                                      "    poll: 250ms\n"
                                      "    batch: 64\n"),
                          "pipeline.yaml");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->sources.size(), 1u);
  const auto& s = t->sources[0];
  EXPECT_EQ(s.name, "shop") << "named after its slot";
  EXPECT_EQ(s.connection, "host=127.0.0.1 dbname=shop");
  EXPECT_EQ(s.tables,
            (std::vector<std::string>{"public.items", "sales.orders"}));
  EXPECT_EQ(s.topic, "other");
  EXPECT_EQ(s.attributes.at("tenant"), "acme");
  EXPECT_TRUE(s.create_slot);
  EXPECT_TRUE(s.snapshot);
  EXPECT_EQ(s.poll.count(), 250);
  EXPECT_EQ(s.batch, 64u);
  EXPECT_EQ(s.source_line, 4);
}

TEST(TopologySources, DefaultsToTheFeedTopic) {
  auto t = parse_topology(with_source("    slot: s\n    tables: items\n"),
                          "pipeline.yaml");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->sources[0].topic, "rows");
  EXPECT_FALSE(t->sources[0].create_slot);
}

TEST(TopologySources, RefusesWhatCannotWorkByLine) {
  EXPECT_EQ(config_message(with_source("    tables: [items]\n")),
            "pipeline.yaml:4: sources[0].slot: required field is missing");
  EXPECT_EQ(config_message(with_source("    slot: Shop\n    tables: [a]\n")),
            "pipeline.yaml:5: sources[0].slot: 'Shop' is not a replication "
            "slot name (lower-case letters, digits and '_', at most 63)");
  EXPECT_EQ(
      config_message(with_source("    slot: s\n    tables: [\"My Table\"]\n")),
      "pipeline.yaml:6: sources[0].tables[0]: table 'My Table' is not a "
      "plain lower-case name (schema.table, letters, digits and '_'; "
      "quoted identifiers are not supported)");
  EXPECT_EQ(
      config_message(with_source("    slot: s\n    tables: [a, public.a]\n")),
      "pipeline.yaml:6: sources[0].tables[1]: table 'public.a' is "
      "listed twice");
  EXPECT_EQ(config_message(with_source("    slot: s\n    tables: [a]\n"
                                       "    snapshot: true\n")),
            "pipeline.yaml:7: sources[0].snapshot: a snapshot is read at the "
            "slot's creation: set create_slot: true too (an existing slot has "
            "no snapshot to read)");
  EXPECT_EQ(config_message(with_source("    slot: s\n    tables: [a]\n"
                                       "    topic: nowhere\n")),
            "pipeline.yaml:7: sources[0].topic: unknown topic 'nowhere' "
            "(declared: rows, other)");
  EXPECT_EQ(config_message(with_source("    slot: s\n    tables: [a]\n"
                                       "    attributes: {table: x}\n")),
            "pipeline.yaml:7: sources[0].attributes.table: 'table' is set by "
            "the source itself");
  EXPECT_EQ(config_message(with_source("    slot: s\n    tables: [a]\n"
                                       "    batch: 0\n")),
            "pipeline.yaml:7: sources[0].batch: expected an integer in "
            "1..100000, got '0'");
  EXPECT_EQ(config_message(with_source("    slot: s\n    tables: [a]\n"
                                       "  - postgres: x\n    slot: s\n"
                                       "    tables: [b]\n")),
            "pipeline.yaml:7: sources[1]: a second source named 's' (give "
            "each a distinct name)");
}

TEST(TopologySources, ReadsASourceUrlLeavingLibpqItsParameters) {
  auto s = parse_source_url(
      "postgresql://cap@127.0.0.1:5433/shop?sslmode=disable&slot=shop"
      "&tables=items,sales.orders&create_slot=true&snapshot=1&poll=50ms"
      "&batch=10&attr.tenant=acme%2Feu&connect_timeout=3");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->connection,
            "postgresql://cap@127.0.0.1:5433/shop?sslmode=disable"
            "&connect_timeout=3");
  EXPECT_EQ(s->name, "shop");
  EXPECT_EQ(s->tables,
            (std::vector<std::string>{"public.items", "sales.orders"}));
  EXPECT_TRUE(s->create_slot);
  EXPECT_TRUE(s->snapshot);
  EXPECT_EQ(s->poll.count(), 50);
  EXPECT_EQ(s->batch, 10u);
  EXPECT_EQ(s->attributes.at("tenant"), "acme/eu");
  EXPECT_EQ(s->source_line, 0);
}

TEST(TopologySources, RefusesABadSourceUrlNamingTheParameter) {
  auto message = [](const std::string& url) {
    auto s = parse_source_url(url);
    EXPECT_FALSE(s) << url;
    return s ? std::string() : s.error().message;
  };
  EXPECT_NE(message("mysql://x/db?slot=s&tables=a")
                .find("is not a postgresql:// URL"),
            std::string::npos);
  EXPECT_EQ(message("postgresql://h/db?tables=a"),
            "--source: no slot=NAME in 'postgresql://h/db?tables=a' (the "
            "logical replication slot to read)");
  EXPECT_EQ(message("postgresql://h/db?slot=s"),
            "--source: tables: no table given");
  EXPECT_EQ(message("postgresql://h/db?slot=s&tables=a&snapshot=yes"),
            "--source: snapshot: expected true or false, got 'yes'");
  EXPECT_EQ(message("postgresql://h/db?slot=s&tables=a&batch=x"),
            "--source: batch: expected an integer in 1..100000, got 'x'");
  EXPECT_EQ(message("postgresql://h/db?slot=s&tables=a&snapshot=true"),
            "--source: snapshot: a snapshot is read at the slot's creation: "
            "set create_slot: true too (an existing slot has no snapshot to "
            "read)");
}

TEST(TopologySources, AddsACommandLineSourceToADeclaredTopic) {
  auto t = parse_topology(head, "pipeline.yaml");
  ASSERT_TRUE(t);
  auto s = parse_source_url("postgresql://h/db?slot=s&tables=a");
  ASSERT_TRUE(s);
  ASSERT_TRUE(add_source(*t, *s));
  EXPECT_EQ(t->sources[0].topic, "rows");
  auto again = add_source(*t, *s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "--source: the topology already has a "
                                   "source named 's' (give name=OTHER)");
  s->name = "t";
  s->topic = "x";
  auto unknown = add_source(*t, *s);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "--source: topic 'x' is not declared in "
                                     "the topology (topics: rows, other)");
}

} // namespace
} // namespace sluice::topology_test
