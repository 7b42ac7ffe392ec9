// Tests for loading a topology from files: where each stage was defined,
// missing files, and `include:` composition with its errors (missing
// includes, cycles, a file included twice, pipeline fields in an include).
#include "sluice/topology.hpp"

#include <gtest/gtest.h>

#include "topology_test_support.hpp"

namespace sluice::topology_test {
namespace {

TEST(Topology, LoadsAFileAndRecordsWhereEachStageWasDefined) {
  temp_dir dir;
  const std::string path = dir.write("pipeline.yaml", full_example);
  auto loaded = load_topology(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->stages.at(1).source_file, path);
  EXPECT_EQ(loaded->stages.at(1).source_line, 17);
}

TEST(Topology, ReportsAMissingFileAsNotFoundNamingThePath) {
  temp_dir dir;
  const std::string path = (dir.path() / "nope.yaml").string();
  auto loaded = load_topology(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::not_found);
  EXPECT_EQ(loaded.error().message, path + ": no such file");
}

TEST(Topology,
     AppendsStagesAndTopicsOfIncludedFilesRelativeToTheIncludingFile) {
  temp_dir dir;
  dir.write("stages/parse.yaml", "topics: [parsed]\n"
                                 "include: [more/enrich.yaml]\n"
                                 "stages:\n"
                                 "  - name: parse\n"
                                 "    behaviour: package.parse\n"
                                 "    subscribe: [{topic: registry}]\n"
                                 "    emits: [parsed]\n");
  dir.write("stages/more/enrich.yaml", "stages:\n"
                                       "  - name: enrich\n"
                                       "    behaviour: package.enrich\n"
                                       "    subscribe: [{topic: parsed}]\n");
  const std::string root =
      dir.write("pipeline.yaml", "pipeline: p\n"
                                 "topics: [registry]\n"
                                 "include: [stages/parse.yaml]\n"
                                 "stages:\n"
                                 "  - name: audit\n"
                                 "    behaviour: audit\n"
                                 "    subscribe: [{topic: parsed}]\n");
  auto loaded = load_topology(root);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->topics, (std::vector<std::string>{"registry", "parsed"}));
  ASSERT_EQ(loaded->stages.size(), 3u);
  EXPECT_EQ(loaded->stages[0].name, "audit");
  EXPECT_EQ(loaded->stages[1].name, "parse");
  EXPECT_EQ(loaded->stages[1].source_file,
            (dir.path() / "stages/parse.yaml").string());
  EXPECT_EQ(loaded->stages[1].source_line, 4);
  EXPECT_EQ(loaded->stages[2].name, "enrich");
  EXPECT_EQ(loaded->stages[2].source_file,
            (dir.path() / "stages/more/enrich.yaml").string());
  EXPECT_EQ(loaded->stages[2].source_line, 2);
}

TEST(Topology, ResolvesIncludesOfParsedTextAgainstTheBaseDir) {
  temp_dir dir;
  dir.write("extra.yaml", "topics: [out]\n");
  auto parsed =
      parse_topology("pipeline: p\ntopics: [in]\ninclude: [extra.yaml]\n",
                     "inline", dir.path().string());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->topics, (std::vector<std::string>{"in", "out"}));
}

TEST(Topology, NamesTheIncludingFileAndLineOfAMissingInclude) {
  temp_dir dir;
  const std::string root =
      dir.write("pipeline.yaml", "pipeline: p\n"
                                 "topics: [in]\n"
                                 "include:\n"
                                 "  - a.yaml\n"
                                 "  - stages/prase.yaml\n");
  dir.write("a.yaml", "topics: [a]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::not_found);
  const std::string resolved = (dir.path() / "stages/prase.yaml").string();
  EXPECT_EQ(loaded.error().message,
            root
                + ":5: include[1]: include file 'stages/prase.yaml' not found "
                  "(resolved to '"
                + resolved + "')");
}

TEST(Topology, ReportsAnIncludeCycleWithItsChain) {
  temp_dir dir;
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [a.yaml]\n");
  dir.write("a.yaml", "include: [b.yaml]\n");
  dir.write("b.yaml", "topics: [b]\ninclude: [a.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, errc::config);
  const std::string a = (dir.path() / "a.yaml").string();
  const std::string b = (dir.path() / "b.yaml").string();
  EXPECT_EQ(loaded.error().message, b + ":2: include[0]: include cycle: " + a
                                        + " -> " + b + " -> " + a);
}

TEST(Topology, ReportsAFileThatIncludesTheRootPipeline) {
  temp_dir dir;
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [a.yaml]\n");
  dir.write("a.yaml", "include: [pipeline.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("include cycle: " + root + " -> "),
            std::string::npos)
      << loaded.error().message;
}

TEST(Topology, RejectsAFileIncludedTwice) {
  temp_dir dir;
  dir.write("a.yaml", "topics: [a]\n");
  const std::string root =
      dir.write("pipeline.yaml",
                "pipeline: p\ntopics: [in]\ninclude: [a.yaml, ./a.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            root + ":3: include[1]: '" + (dir.path() / "a.yaml").string()
                + "' is already included at " + root + ":3");
}

TEST(Topology, NamesTheIncludedFileInErrorsFoundThere) {
  temp_dir dir;
  dir.write("stages.yaml", "stages:\n"
                           "  - name: s\n"
                           "    behavior: b\n");
  const std::string root = dir.write(
      "pipeline.yaml", "pipeline: p\ntopics: [in]\ninclude: [stages.yaml]\n");
  auto loaded = load_topology(root);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            (dir.path() / "stages.yaml").string()
                + ":3: stages[0].behavior: unknown field 'behavior' "
                  "(did you mean 'behaviour'?)");
}

TEST(Topology, RejectsPipelineLevelFieldsInAnIncludedFile) {
  temp_dir dir;
  dir.write("stages.yaml", "pipeline: other\n");
  auto parsed =
      parse_topology("pipeline: p\ntopics: [in]\ninclude: [stages.yaml]\n",
                     "pipeline.yaml", dir.path().string());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message,
            (dir.path() / "stages.yaml").string()
                + ":1: pipeline: unknown field 'pipeline' (known: include, "
                  "stages, topics)");
}

} // namespace
} // namespace sluice::topology_test
