// Tests for sluice::feed_reader on small fixtures written to a temp dir: the
// three formats, malformed records with their exact messages, exact resume,
// and a pipe (which reads on but cannot seek).
#include "sluice/feed_reader.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

namespace fs = std::filesystem;

class FeedReader : public ::testing::Test {
protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path()
           / (std::string("sluice_feed_reader_") + std::to_string(::getpid())
              + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  static std::unique_ptr<feed_reader> open_ok(const std::string& path) {
    auto r = feed_reader::open(path, "registry");
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().describe());
    return r ? std::move(r).value() : nullptr;
  }

  static std::vector<feed_record> read_all(feed_reader& r,
                                           std::size_t batch = 3) {
    std::vector<feed_record> all;
    for (;;) {
      auto got = r.next(batch);
      if (got.empty())
        return all;
      EXPECT_LE(got.size(), batch);
      for (auto& rec : got)
        all.push_back(std::move(rec));
    }
  }

  fs::path dir_;
};

const std::string npm_fixture =
    "name\tversion\tdownloads_a_month\tsummary\n"
    "lodash\t4.17.21\t452434618\tLodash modular utilities.\n"
    "left-pad\t1.3.0\t1000\tString left pad\n"
    "@types/node\t20.1.0\t99\t\n";

const std::string debian_fixture =
    "Package: 0ad\n"
    "Version: 0.0.26-3\n"
    "Depends: 0ad-data (>= 0.0.26), libc6 (>= 2.34) | libc6.1\n"
    "Tag: game::strategy, interface::graphical,\n"
    " uitoolkit::sdl, use::gameplaying,\n"
    "\tx11::application\n"
    "Description: Real-time strategy game\n"
    "\n"
    "Package: zlib1g\n"
    "Version: 1:1.2.13.dfsg-1\n"
    "Priority: required\n"
    "\n";

const std::string jsonl_fixture =
    "{\"key\": \"npm/left-pad\", \"payload\": {\"name\": \"left-pad\", "
    "\"downloads\": 12}}\n"
    "\n"
    "{\"key\": \"pypi/requests\", \"id\": \"r-1\", \"topic\": \"other\", "
    "\"tenant\": \"acme\", \"priority\": \"urgent\", "
    "\"attributes\": {\"ecosystem\": \"pypi\", \"format\": \"mine\"}, "
    "\"payload\": \"plain text\"}\n"
    "{\"key\": \"npm/x\", \"payload\": [1, null, true]}\n";

TEST_F(FeedReader, ReadsJsonLinesWithEveryField) {
  auto r = open_ok(write("events.jsonl", jsonl_fixture));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), feed_reader::format::jsonl);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 3u);
  for (auto& rec : recs)
    ASSERT_TRUE(rec.ok) << rec.error;
  // Defaults: the feed's topic, the file and line as id, format jsonl.
  EXPECT_EQ(recs[0].ev.key, "npm/left-pad");
  EXPECT_EQ(recs[0].ev.id, "events.jsonl:1");
  EXPECT_EQ(recs[0].ev.topic, "registry");
  EXPECT_EQ(recs[0].ev.priority, priority::normal);
  EXPECT_EQ(recs[0].ev.attributes.at("format"), "jsonl");
  EXPECT_EQ(nlohmann::json::parse(recs[0].ev.payload),
            nlohmann::json::parse(R"({"name":"left-pad","downloads":12})"));
  EXPECT_EQ(recs[0].ev.content_hash, content_hash(recs[0].ev.payload));
  // Given: every field (a blank line between is skipped).
  EXPECT_EQ(recs[1].line, 3u);
  EXPECT_EQ(recs[1].ev.id, "r-1");
  EXPECT_EQ(recs[1].ev.topic, "other");
  EXPECT_EQ(recs[1].ev.tenant, "acme");
  EXPECT_EQ(recs[1].ev.priority, priority::urgent);
  EXPECT_EQ(recs[1].ev.attributes.at("ecosystem"), "pypi");
  EXPECT_EQ(recs[1].ev.attributes.at("format"), "mine");
  EXPECT_EQ(recs[1].ev.payload, "plain text"); // a string as it is
  EXPECT_EQ(recs[2].ev.payload, "[1,null,true]");
  EXPECT_EQ(recs[2].end_offset, r->file_size());
}

TEST_F(FeedReader, SniffsJsonLinesByTheFirstLineWhateverTheName) {
  auto r = open_ok(write("feed.txt", "{\"key\": \"k\"}\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), feed_reader::format::jsonl);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(recs[0].ok) << recs[0].error;
}

TEST_F(FeedReader, ReportsMalformedJsonLinesWithFileAndLineAndReadsOn) {
  auto r = open_ok(write("bad.ndjson",
                         "[1, 2]\n"
                         "{\"key\": 7}\n"
                         "{\"payload\": {}}\n"
                         "{\"key\": \"k\", \"attributes\": {\"a\": 1}}\n"
                         "{\"key\": \"k\", \"priority\": \"high\"}\n"
                         "{\"key\": \"k\",\n"
                         "{\"key\": \"good\"}\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), feed_reader::format::jsonl); // by its name
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 7u);
  EXPECT_EQ(recs[0].error, "bad.ndjson:1: is not a JSON object");
  EXPECT_EQ(recs[0].raw, "[1, 2]");
  EXPECT_EQ(recs[1].error, "bad.ndjson:2: \"key\" must be a string");
  EXPECT_EQ(recs[2].error, "bad.ndjson:3: no \"key\"");
  EXPECT_EQ(recs[3].error, "bad.ndjson:4: attribute \"a\" must be a string");
  EXPECT_EQ(recs[4].error,
            "bad.ndjson:5: \"priority\" must be \"urgent\" or \"normal\"");
  EXPECT_EQ(recs[5].error.rfind("bad.ndjson:6: not JSON: ", 0), 0u)
      << recs[5].error;
  ASSERT_TRUE(recs[6].ok) << recs[6].error;
  EXPECT_EQ(recs[6].ev.id, "bad.ndjson:7");
}

TEST_F(FeedReader, TurnsAJsonLineOverOneMebibyteIntoAnErrorAndReadsOn) {
  const std::string huge(std::size_t{1} << 21, 'x');
  auto r = open_ok(write("big.jsonl", "{\"key\": \"a\", \"payload\": \"" + huge
                                          + "\"}\n{\"key\": \"b\"}\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].error, "big.jsonl:1: line longer than 1048576 bytes");
  EXPECT_TRUE(recs[0].raw.empty()); // too long to keep
  ASSERT_TRUE(recs[1].ok) << recs[1].error;
  EXPECT_EQ(recs[1].ev.key, "b");
}

TEST_F(FeedReader, ReadsAPipeToItsEndButCannotSeekInIt) {
  // A FIFO stands in for standard input from another process.
  const auto fifo = (dir_ / "events.jsonl").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer(
      [&] { std::ofstream(fifo, std::ios::binary) << jsonl_fixture; });
  auto r = open_ok(fifo);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->seekable());
  EXPECT_EQ(r->kind(), feed_reader::format::jsonl);
  EXPECT_EQ(r->file_size(), 0u);
  ASSERT_TRUE(r->seek(0)); // where it is
  auto first = r->next(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].ev.key, "npm/left-pad"); // the sniffed line, read again
  auto back = r->seek(0);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message.find("events.jsonl is a pipe: it cannot go "
                                      "to byte 0"),
            0u)
      << back.error().message;
  auto rest = read_all(*r);
  writer.join();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[1].ev.key, "npm/x");
}

TEST_F(FeedReader, TakesTheKeyAndAttributesFromTheColumnsTheFeedNames) {
  feed_reader::options opts{"orders", "customer", {"tier", "region"}, {}, {}};
  auto r =
      feed_reader::open(write("orders.tsv", "customer\ttier\tregion\ttotal\n"
                                            "c-17\tgold\teu\t12.50\n"
                                            "\tsilver\tus\t3\n"),
                        opts);
  ASSERT_TRUE(r) << r.error().describe();
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 2u);
  ASSERT_TRUE(recs[0].ok) << recs[0].error;
  EXPECT_EQ(recs[0].ev.key, "c-17"); // no name column needed
  EXPECT_EQ(recs[0].ev.topic, "orders");
  EXPECT_EQ(recs[0].ev.attributes.at("tier"), "gold");
  EXPECT_EQ(recs[0].ev.attributes.at("region"), "eu");
  EXPECT_EQ(recs[1].error, "orders.tsv:3: empty customer (the feed's key)");

  auto no_key =
      feed_reader::open(write("bad.tsv", "name\ttier\nx\tgold\n"), opts);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().message,
            "bad.tsv:1: header has no 'customer' column, the feed's key "
            "(columns: name, tier)");
  feed_reader::options attr_only{"orders", {}, {"region"}, {}, {}};
  auto no_attr =
      feed_reader::open(write("bad2.tsv", "name\ttier\nx\tgold\n"), attr_only);
  ASSERT_FALSE(no_attr);
  EXPECT_EQ(no_attr.error().message,
            "bad2.tsv:1: header has no 'region' column, a feed attribute "
            "(columns: name, tier)");
}

TEST_F(FeedReader, TakesAJsonLinesKeyAndAttributesFromPayloadFields) {
  feed_reader::options opts{"orders", "customer", {"tier", "total"}, {}, {}};
  auto r = feed_reader::open(
      write("orders.jsonl",
            "{\"payload\": {\"customer\": \"c-1\", \"tier\": \"gold\", "
            "\"total\": 12.5}}\n"
            "{\"key\": \"own\", \"attributes\": {\"tier\": \"mine\"}, "
            "\"payload\": {\"customer\": \"c-2\", \"tier\": \"gold\"}}\n"
            "{\"payload\": {\"customer\": 42}}\n"
            "{\"payload\": {\"tier\": \"gold\"}}\n"),
      opts);
  ASSERT_TRUE(r) << r.error().describe();
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 4u);
  ASSERT_TRUE(recs[0].ok) << recs[0].error;
  EXPECT_EQ(recs[0].ev.key, "c-1");
  EXPECT_EQ(recs[0].ev.attributes.at("tier"), "gold");
  EXPECT_EQ(recs[0].ev.attributes.at("total"), "12.5");
  // The line's own key and attributes win.
  EXPECT_EQ(recs[1].ev.key, "own");
  EXPECT_EQ(recs[1].ev.attributes.at("tier"), "mine");
  EXPECT_EQ(recs[2].ev.key, "42");
  EXPECT_EQ(recs[3].error, "orders.jsonl:4: no \"key\" and no payload field "
                           "'customer' (the feed's key)");
}

TEST_F(FeedReader, TakesADebianKeyFromTheFieldTheFeedNames) {
  feed_reader::options opts{"registry", "Source", {"Section"}, {}, {}};
  auto r = feed_reader::open(
      write("debian.Packages", "Package: libz1\nSource: zlib\nSection: libs\n\n"
                               "Package: lonely\n"),
      opts);
  ASSERT_TRUE(r) << r.error().describe();
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 2u);
  ASSERT_TRUE(recs[0].ok) << recs[0].error;
  EXPECT_EQ(recs[0].ev.key, "zlib");
  EXPECT_EQ(recs[0].ev.attributes.at("Section"), "libs");
  EXPECT_EQ(recs[1].error, "debian.Packages:5: stanza has no Source field "
                           "(the feed's key)");
}

TEST_F(FeedReader, ReadsTsvRowsIntoEventsWithKeyIdAndPayload) {
  auto r = open_ok(write("npm.tsv", npm_fixture));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), feed_reader::format::tsv);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 3u);
  const feed_record& first = recs[0];
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_EQ(first.line, 2u);
  EXPECT_EQ(first.ev.id, "npm.tsv:2");
  EXPECT_EQ(first.ev.topic, "registry");
  EXPECT_EQ(first.ev.key, "npm/lodash");
  EXPECT_EQ(first.ev.attributes.at("ecosystem"), "npm");
  EXPECT_EQ(first.ev.attributes.at("format"), "tsv");
  EXPECT_EQ(first.ev.payload,
            R"({"downloads_a_month":"452434618","name":"lodash",)"
            R"("summary":"Lodash modular utilities.","version":"4.17.21"})");
  EXPECT_EQ(first.ev.content_hash, content_hash(first.ev.payload));
  EXPECT_EQ(first.ev.priority, priority::normal);
  EXPECT_EQ(first.ev.origin_ts_ns, 0);
  EXPECT_EQ(recs[2].ev.key, "npm/@types/node");
  EXPECT_EQ(nlohmann::json::parse(recs[2].ev.payload)["summary"], "");
  EXPECT_EQ(recs[2].end_offset, r->file_size());
}

TEST_F(FeedReader, TakesTheEcosystemFromAnEcosystemColumnWhenPresent) {
  auto r = open_ok(write("mixed.feed.tsv", "ecosystem\tname\tversion\n"
                                           "pypi\trequests\t2.31.0\n"
                                           "\tbare\t1\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].ev.key, "pypi/requests");
  EXPECT_EQ(recs[0].ev.attributes.at("ecosystem"), "pypi");
  EXPECT_EQ(recs[1].ev.key, "mixed/bare"); // empty cell: the file stem
}

TEST_F(FeedReader, ReadsDebianStanzasWithContinuationLines) {
  auto r = open_ok(write("debian.Packages", debian_fixture));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind(), feed_reader::format::debian);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 2u);
  ASSERT_TRUE(recs[0].ok) << recs[0].error;
  EXPECT_EQ(recs[0].ev.id, "debian.Packages:1");
  EXPECT_EQ(recs[0].ev.key, "debian/0ad");
  EXPECT_EQ(recs[0].ev.attributes.at("ecosystem"), "debian");
  EXPECT_EQ(recs[0].ev.attributes.at("format"), "debian");
  const auto fields = nlohmann::json::parse(recs[0].ev.payload);
  EXPECT_EQ(fields["Tag"], "game::strategy, interface::graphical,\n"
                           "uitoolkit::sdl, use::gameplaying,\n"
                           "x11::application");
  EXPECT_EQ(fields["Depends"],
            "0ad-data (>= 0.0.26), libc6 (>= 2.34) | libc6.1");
  EXPECT_EQ(fields.size(), 5u);
  EXPECT_EQ(recs[1].ev.id, "debian.Packages:9");
  EXPECT_EQ(recs[1].ev.key, "debian/zlib1g");
  EXPECT_EQ(recs[1].end_offset, r->file_size());
}

TEST_F(FeedReader, ReportsARowWithTheWrongNumberOfCellsAndReadsOn) {
  auto r =
      open_ok(write("npm.tsv", "name\tversion\tdownloads_a_month\tsummary\n"
                               "good\t1.0.0\t5\tfine\n"
                               "short\t1.0.0\n"
                               "after\t2.0.0\t7\tstill read\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_TRUE(recs[0].ok);
  EXPECT_FALSE(recs[1].ok);
  EXPECT_EQ(recs[1].line, 3u);
  EXPECT_EQ(recs[1].error,
            "npm.tsv:3: expected 4 tab-separated fields (name, version, "
            "downloads_a_month, summary), got 2");
  EXPECT_TRUE(recs[2].ok);
  EXPECT_EQ(recs[2].ev.id, "npm.tsv:4");
}

TEST_F(FeedReader, ReportsAnEmptyName) {
  auto r = open_ok(write("pypi.tsv", "name\tversion\tmonth\trank\tsummary\n"
                                     "\t1.0\t2024-01\t\tno name\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_FALSE(recs[0].ok);
  EXPECT_EQ(recs[0].error, "pypi.tsv:2: empty name");
}

TEST_F(FeedReader, ReportsMalformedStanzasAndReadsOn) {
  auto r = open_ok(write("debian.Packages", "Package: ok1\n"
                                            "Version: 1\n"
                                            "\n"
                                            "Version: 2\n"
                                            "Maintainer: nobody\n"
                                            "\n"
                                            "Package: bad-line\n"
                                            "this is not a field\n"
                                            "\n"
                                            "Package: dup\n"
                                            "Package: dup\n"
                                            "\n"
                                            "Package: ok2\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_TRUE(recs[0].ok);
  EXPECT_FALSE(recs[1].ok);
  EXPECT_EQ(recs[1].line, 4u);
  EXPECT_EQ(recs[1].error, "debian.Packages:4: stanza has no Package field");
  EXPECT_FALSE(recs[2].ok);
  EXPECT_EQ(recs[2].error,
            "debian.Packages:8: expected 'Field: value' or a continuation "
            "line");
  EXPECT_EQ(recs[3].error, "debian.Packages:11: duplicate field 'Package'");
  ASSERT_TRUE(recs[4].ok);
  EXPECT_EQ(recs[4].ev.id, "debian.Packages:13");
}

TEST_F(FeedReader, ReportsAContinuationLineBeforeAnyField) {
  auto r = open_ok(
      write("debian.Packages", "Package: a\n\n continued\nPackage: b\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].error,
            "debian.Packages:3: continuation line without a field");
}

TEST_F(FeedReader, ResumesAfterSeekWithIdenticalIds) {
  for (const auto& [name, text] :
       {std::pair{std::string("npm.tsv"), npm_fixture},
        std::pair{std::string("debian.Packages"), debian_fixture}}) {
    const std::string path = write(name, text);
    auto whole = open_ok(path);
    ASSERT_TRUE(whole);
    const auto all = read_all(*whole);
    ASSERT_GE(all.size(), 2u);
    for (std::size_t i = 0; i < all.size(); ++i) {
      auto fresh = open_ok(path);
      ASSERT_TRUE(fresh);
      ASSERT_TRUE(fresh->seek(all[i].end_offset));
      const auto rest = read_all(*fresh, 1);
      ASSERT_EQ(rest.size(), all.size() - i - 1) << name << " after " << i;
      for (std::size_t j = 0; j < rest.size(); ++j) {
        EXPECT_EQ(rest[j].ev.id, all[i + 1 + j].ev.id);
        EXPECT_EQ(rest[j].line, all[i + 1 + j].line);
        EXPECT_EQ(rest[j].ev.payload, all[i + 1 + j].ev.payload);
        EXPECT_EQ(rest[j].end_offset, all[i + 1 + j].end_offset);
      }
    }
    // Seeking back to 0 on a used reader starts again from the first record.
    ASSERT_TRUE(whole->seek(0));
    const auto again = read_all(*whole);
    ASSERT_EQ(again.size(), all.size());
    EXPECT_EQ(again.front().ev.id, all.front().ev.id);
  }
}

TEST_F(FeedReader, RejectsOffsetsInsideALineOrPastTheEnd) {
  auto r = open_ok(write("npm.tsv", npm_fixture));
  ASSERT_TRUE(r);
  auto inside = r->seek(r->file_size() - 3);
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error().code, errc::invalid_argument);
  auto past = r->seek(r->file_size() + 1);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, errc::invalid_argument);
}

TEST_F(FeedReader, ReturnsNothingAtEndOfFileAndKeepsDoingSo) {
  auto r = open_ok(write("npm.tsv", npm_fixture));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next(100).size(), 3u);
  EXPECT_TRUE(r->next(100).empty());
  EXPECT_TRUE(r->next(100).empty());
  ASSERT_TRUE(r->seek(r->file_size()));
  EXPECT_TRUE(r->next(100).empty());
}

TEST_F(FeedReader, ReportsAMissingFileAsNotFoundNamingThePath) {
  const std::string path = (dir_ / "nope.tsv").string();
  auto r = feed_reader::open(path, "registry");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::not_found);
  EXPECT_NE(r.error().message.find(path), std::string::npos);
}

TEST_F(FeedReader, GivesNoRecordsForAnEmptyOrHeaderOnlyFile) {
  for (const std::string text :
       {"", "name\tversion\n", "name\tversion", "\n\n"}) {
    auto r = open_ok(write("npm.tsv", text));
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->next(10).empty()) << text;
  }
}

TEST_F(FeedReader, RejectsAHeaderWithoutATab) {
  auto r = feed_reader::open(write("npm.tsv", "name version\nx 1\n"), "t");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::parse);
  EXPECT_NE(r.error().message.find("npm.tsv:1:"), std::string::npos);
}

TEST_F(FeedReader, RejectsAHeaderWithoutANameColumn) {
  auto r = feed_reader::open(write("npm.tsv", "pkg\tversion\nx\t1\n"), "t");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::parse);
  EXPECT_EQ(r.error().message,
            "npm.tsv:1: header has no 'name' column (columns: pkg, version)");
}

TEST_F(FeedReader, HandlesCrlfLineEndsAndALastLineWithoutNewline) {
  auto tsv = open_ok(write("npm.tsv", "name\tversion\r\n"
                                      "a\t1\r\n"
                                      "b\t2"));
  ASSERT_TRUE(tsv);
  auto recs = read_all(*tsv);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].ev.payload, R"({"name":"a","version":"1"})");
  EXPECT_EQ(recs[1].ev.payload, R"({"name":"b","version":"2"})");
  EXPECT_EQ(recs[1].end_offset, tsv->file_size());

  auto deb = open_ok(write("debian.Packages",
                           "Package: a\r\nDescription: x\r\n more\r\n\r\n"
                           "Package: b\r\nVersion: 2"));
  ASSERT_TRUE(deb);
  recs = read_all(*deb);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].ev.payload, R"({"Description":"x\nmore","Package":"a"})");
  EXPECT_EQ(recs[1].ev.id, "debian.Packages:5");
  EXPECT_EQ(recs[1].ev.payload, R"({"Package":"b","Version":"2"})");
}

TEST_F(FeedReader, IgnoresAByteOrderMarkBeforeTheFirstLine) {
  auto tsv = open_ok(write("npm.tsv", "\xEF\xBB\xBFname\tversion\na\t1\n"));
  ASSERT_TRUE(tsv);
  EXPECT_EQ(read_all(*tsv).at(0).ev.payload, R"({"name":"a","version":"1"})");
  auto deb = open_ok(write("debian.Packages", "\xEF\xBB\xBFPackage: a\n"));
  ASSERT_TRUE(deb);
  EXPECT_EQ(read_all(*deb).at(0).ev.key, "debian/a");
}

TEST_F(FeedReader, TurnsARecordOverOneMebibyteIntoAnErrorAndReadsOn) {
  const std::string huge(std::size_t{1} << 21, 'x');
  auto tsv =
      open_ok(write("npm.tsv", "name\tversion\nbig\t" + huge + "\nsmall\t1\n"));
  ASSERT_TRUE(tsv);
  auto recs = read_all(*tsv);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].error, "npm.tsv:2: line longer than 1048576 bytes");
  EXPECT_TRUE(recs[1].ok);
  EXPECT_EQ(recs[1].ev.id, "npm.tsv:3");

  std::string stanza = "Package: big\nDescription: long\n";
  for (int i = 0; i < 40000; ++i)
    stanza += " " + std::string(40, 'y') + "\n";
  auto deb = open_ok(write("debian.Packages", stanza + "\nPackage: small\n"));
  ASSERT_TRUE(deb);
  recs = read_all(*deb);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].error,
            "debian.Packages:1: stanza longer than 1048576 bytes");
  EXPECT_TRUE(recs[1].ok);
  EXPECT_EQ(recs[1].ev.id, "debian.Packages:40004");
}

TEST_F(FeedReader, PassesInvalidUtf8Through) {
  auto r = open_ok(write("npm.tsv", "name\tsummary\nodd\tbad \xff byte\n"));
  ASSERT_TRUE(r);
  auto recs = read_all(*r);
  ASSERT_EQ(recs.size(), 1u);
  ASSERT_TRUE(recs[0].ok) << recs[0].error;
  EXPECT_NO_THROW(nlohmann::json::parse(recs[0].ev.payload));
}

} // namespace
} // namespace sluice

namespace sluice {
namespace {

class FeedFormats : public FeedReader {};

TEST_F(FeedFormats, RawLinesAreOneEventEachKeyedByFileAndLine) {
  auto path = write("app.log", "GET /a 200\n\n{\"looks\": \"like json\"}\n"
                               "Package: looks-like-debian\n");
  feed_reader::options opts{"logs", {}, {}, "lines", {}};
  auto r = feed_reader::open(path, opts);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ((*r)->kind(), feed_reader::format::lines);
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 3u) << "a blank line is no event";
  EXPECT_EQ(recs[0].ev.key, "app/1");
  EXPECT_EQ(recs[0].ev.payload, "GET /a 200");
  EXPECT_EQ(recs[0].ev.id, "app.log:1");
  EXPECT_EQ(recs[0].ev.attributes.at("format"), "lines");
  EXPECT_EQ(recs[1].ev.key, "app/3");
  EXPECT_EQ(recs[1].ev.payload, "{\"looks\": \"like json\"}");
  EXPECT_EQ(recs[2].ev.payload, "Package: looks-like-debian");
}

TEST_F(FeedFormats, AFormatGivenWinsOverTheNameAndTheFirstLine) {
  auto path = write("events.txt", "{\"key\": \"a\", \"payload\": 1}\n");
  auto r = feed_reader::open(path, {"t", {}, {}, "jsonl", {}});
  ASSERT_TRUE(r);
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].ev.key, "a");
  // tsv on a file whose first line has no tab: the header error, named.
  auto bad = feed_reader::open(path, {"t", {}, {}, "tsv", {}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("events.txt:1: not a feed"),
            std::string::npos)
      << bad.error().message;
  auto unknown = feed_reader::open(path, {"t", {}, {}, "csv", {}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "feed format 'csv': expected tsv, debian, jsonl or lines");
}

TEST_F(FeedFormats, APriorityColumnOrFieldMakesRecordsUrgent) {
  auto tsv = write("orders.tsv", "name\tprio\n"
                                 "a\turgent\n"
                                 "b\tnormal\n"
                                 "c\t\n"
                                 "d\thigh\n");
  auto r = feed_reader::open(tsv, {"t", {}, {}, {}, "prio"});
  ASSERT_TRUE(r) << r.error().describe();
  auto recs = read_all(**r);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].ev.priority, priority::urgent);
  EXPECT_EQ(recs[1].ev.priority, priority::normal);
  EXPECT_EQ(recs[2].ev.priority, priority::normal) << "empty: normal";
  ASSERT_FALSE(recs[3].ok);
  EXPECT_EQ(recs[3].error, "orders.tsv:5: prio 'high' is not a priority "
                           "(urgent or normal; the feed's priority)");
  auto missing = feed_reader::open(tsv, {"t", {}, {}, {}, "urgency"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(
                "header has no 'urgency' column, the feed's priority"),
            std::string::npos);

  auto jsonl = write("e.jsonl", "{\"key\": \"a\", \"payload\": {\"p\": "
                                "\"urgent\"}}\n"
                                "{\"key\": \"b\", \"priority\": \"normal\", "
                                "\"payload\": {\"p\": \"urgent\"}}\n");
  auto j = feed_reader::open(jsonl, {"t", {}, {}, {}, "p"});
  ASSERT_TRUE(j);
  auto jr = read_all(**j);
  ASSERT_EQ(jr.size(), 2u);
  EXPECT_EQ(jr[0].ev.priority, priority::urgent);
  EXPECT_EQ(jr[1].ev.priority, priority::normal) << "the line's own wins";

  auto deb = write("p.Packages", "Package: a\nPriority-Class: urgent\n\n"
                                 "Package: b\n");
  auto d = feed_reader::open(deb, {"t", {}, {}, {}, "Priority-Class"});
  ASSERT_TRUE(d);
  auto dr = read_all(**d);
  ASSERT_EQ(dr.size(), 2u);
  EXPECT_EQ(dr[0].ev.priority, priority::urgent);
  EXPECT_EQ(dr[1].ev.priority, priority::normal);

  auto lines = feed_reader::open(deb, {"t", {}, {}, "lines", "p"});
  ASSERT_FALSE(lines);
  EXPECT_NE(lines.error().message.find("raw lines have no columns"),
            std::string::npos);
}

} // namespace
} // namespace sluice
