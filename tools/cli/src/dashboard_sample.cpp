// The dashboard's samples: the console's answers and selected metrics.
#include "dashboard_sample.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>

#include "sluice/node.hpp"

namespace sluice::cli {

namespace {

// `name{a="x",b="y"} value`; false when the line does not parse.
bool parse_line(std::string_view line, prometheus_series& out) {
  auto brace = line.find('{');
  auto space = line.rfind(' ');
  if (space == std::string_view::npos || space == 0)
    return false;
  out.labels.clear();
  if (brace != std::string_view::npos && brace < space) {
    out.name = std::string{line.substr(0, brace)};
    auto close = line.rfind('}', space);
    if (close == std::string_view::npos || close < brace)
      return false;
    auto body = line.substr(brace + 1, close - brace - 1);
    while (!body.empty()) {
      auto eq = body.find("=\"");
      if (eq == std::string_view::npos)
        return false;
      std::string key{body.substr(0, eq)}, value;
      std::size_t i = eq + 2;
      for (; i < body.size() && body[i] != '"'; ++i) {
        if (body[i] == '\\' && i + 1 < body.size()) {
          ++i;
          value += body[i] == 'n' ? '\n' : body[i];
        } else {
          value += body[i];
        }
      }
      if (i >= body.size())
        return false;
      out.labels.emplace(std::move(key), std::move(value));
      body.remove_prefix(std::min(body.size(), i + 1));
      if (!body.empty() && body.front() == ',')
        body.remove_prefix(1);
    }
  } else {
    out.name = std::string{line.substr(0, space)};
  }
  std::string number{line.substr(space + 1)};
  char* end = nullptr;
  out.value = std::strtod(number.c_str(), &end);
  return end != number.c_str();
}

} // namespace

std::vector<prometheus_series>
select_series(std::string_view text, const std::vector<std::string>& families) {
  std::vector<prometheus_series> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text =
        nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#')
      continue;
    auto end = line.find_first_of("{ ");
    auto family = line.substr(0, end);
    if (std::find(families.begin(), families.end(), family) == families.end())
      continue;
    prometheus_series s;
    if (parse_line(line, s))
      out.push_back(std::move(s));
  }
  return out;
}

std::string sample_metrics(std::string_view prometheus_text) {
  using nlohmann::json;
  auto series = select_series(
      prometheus_text,
      {"sluice_stage_latency_seconds_bucket", "sluice_stage_key_restarts_total",
       "sluice_stage_retrying_keys", "sluice_store_used_bytes",
       "sluice_store_max_bytes", "sluice_outbox_depth",
       "sluice_store_commits_total"});
  json stages = json::object();
  json out = json::object();
  // Cumulative buckets per (stage, priority), in the order they come.
  std::map<std::pair<std::string, std::string>, std::vector<double>> cumulative;
  for (auto& s : series) {
    auto stage = s.labels.count("stage") ? s.labels.at("stage") : "";
    if (s.name == "sluice_stage_latency_seconds_bucket") {
      cumulative[{stage, s.labels["priority"]}].push_back(s.value);
    } else if (s.name == "sluice_stage_key_restarts_total") {
      stages[stage]["restarts"] = s.value;
    } else if (s.name == "sluice_stage_retrying_keys") {
      stages[stage]["retrying"] = s.value;
    } else {
      out[s.name.substr(std::string_view{"sluice_"}.size())] = s.value;
    }
  }
  for (auto& [where, cum] : cumulative) {
    auto& buckets = stages[where.first]["latency_buckets"];
    if (buckets.is_null())
      buckets = json::array();
    for (std::size_t i = 0; i < cum.size(); ++i) {
      double alone = cum[i] - (i > 0 ? cum[i - 1] : 0.0);
      if (buckets.size() <= i)
        buckets.push_back(0.0);
      buckets[i] = buckets[i].get<double>() + alone;
    }
  }
  out["stages"] = std::move(stages);
  return out.dump();
}

dashboard_sampler::dashboard_sampler(std::chrono::milliseconds every,
                                     std::size_t keep)
    : every_(every), keep_(std::max<std::size_t>(1, keep)) {}

std::string dashboard_sampler::latest(node& n) {
  std::lock_guard guard{mtx_};
  auto now = std::chrono::steady_clock::now();
  if (!samples_.empty() && now - made_ < every_)
    return samples_.back();
  // The charts show one unbroken stretch: after a time with no page open,
  // the history starts again.
  if (now - made_ > 10 * every_)
    samples_.clear();
  auto answer = [&](const char* command) {
    auto a = n.admin(command, {});
    return a.code == admin_code::ok ? a.json : std::string{"null"};
  };
  auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  std::string sample = "{\"t\":" + std::to_string(unix_ms) + ",\"stages\":"
                       + answer("stages") + ",\"nodes\":" + answer("nodes")
                       + ",\"metrics\":" + sample_metrics(n.prometheus()) + "}";
  samples_.push_back(sample);
  while (samples_.size() > keep_)
    samples_.pop_front();
  made_ = now;
  return sample;
}

std::string dashboard_sampler::history() const {
  std::lock_guard guard{mtx_};
  std::string out = "[";
  for (auto& s : samples_) {
    if (out.size() > 1)
      out += ',';
    out += s;
  }
  return out + "]";
}

} // namespace sluice::cli
