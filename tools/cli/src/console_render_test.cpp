// The console's `stages` table ends with the input no stage took, one line
// per source and reason.
#include "console_render.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::cli {
namespace {

TEST(ConsoleRender, StagesListTheInputNoStageTookAndWhy) {
  auto answer = nlohmann::json::parse(R"({
    "stages": [{"name": "parse", "in": 2, "done": 2, "skipped": 0,
                "retried": 0, "dead_lettered": 0, "queued_urgent": 0,
                "queued_normal": 0, "events_per_s": 0.0,
                "latency": {"normal": {"count": 0}}}],
    "unrouted": [
      {"source": "publish", "records": 1,
       "why": "ecosystem=crates matched no subscription: parse takes ecosystem debian, npm or pypi"},
      {"source": "/tmp/feed.tsv", "records": 50,
       "why": "ecosystem=feed matched no subscription: parse takes ecosystem debian, npm or pypi"}]})");
  std::ostringstream out;
  render("stages", {}, answer, out);
  auto text = out.str();
  EXPECT_NE(text.find("parse"), std::string::npos) << text;
  EXPECT_NE(
      text.find("taken by no stage: 1 record of publish: ecosystem=crates "
                "matched no subscription: parse takes ecosystem "
                "debian, npm or pypi\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("taken by no stage: 50 records of /tmp/feed.tsv: "
                      "ecosystem=feed matched no subscription"),
            std::string::npos)
      << text;
}

} // namespace
} // namespace sluice::cli
