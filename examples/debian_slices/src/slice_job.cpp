// The `debian.slice_job` behaviour (slice_job.hpp).
#include "slice_job.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace debian_slices {

namespace {

using json = nlohmann::json;

const json& need(const json& j, const char* field) {
  if (!j.is_object() || !j.contains(field))
    throw sluice::permanent_error(std::string("slice job: the event has no '")
                                  + field + "'");
  return j.at(field);
}

std::string alternatives(const json& names) {
  std::string out;
  for (auto& n : names)
    out += (out.empty() ? "" : " | ") + n.get<std::string>();
  return out;
}

} // namespace

std::string slice_result(const std::string& payload) {
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded())
    throw sluice::permanent_error("slice job: the payload is not JSON");
  const auto& change = need(j, "change");
  if (change == "reference") {
    const auto& data = need(j, "data");
    return json{{"reference", need(j, "reference")},
                {"version", data.value("version", "")},
                {"installed_size_kib", data.value("size", 0)},
                {"maintainer", data.value("maintainer", "")}}
        .dump();
  }
  std::set<std::string> present;
  for (auto& m : need(j, "members"))
    present.insert(need(m, "name").get<std::string>());
  json refs = json::array();
  for (auto& r : need(j, "references")) {
    present.insert(need(r, "name").get<std::string>());
    refs.push_back(r.at("name"));
  }
  std::uint64_t size = 0;
  std::set<std::string> maintainers;
  std::set<std::string> unsatisfied; // a relation named twice counts once
  for (auto& m : j.at("members")) {
    const auto& data = need(m, "data");
    if (!data.is_object())
      continue;
    size += data.value("size", std::uint64_t{0});
    if (auto mt = data.value("maintainer", ""); !mt.empty())
      maintainers.insert(mt);
    for (auto& rel : data.value("relations", json::array())) {
      bool ok = false;
      for (auto& n : rel)
        ok = ok || present.count(n.get<std::string>()) > 0;
      if (!ok)
        unsatisfied.insert(m.at("name").get<std::string>() + ": "
                           + alternatives(rel));
    }
  }
  return json{{"slice", need(j, "slice")},
              {"change", change},
              {"from", j.value("from", json::array())},
              {"members", j.at("members").size()},
              {"installed_size_kib", size},
              {"maintainers", maintainers},
              {"unsatisfied", unsatisfied},
              {"references", refs}}
      .dump();
}

void slice_job::on_event(sluice::context& ctx, const sluice::event& ev) {
  auto change = ev.attributes.count("change") ? ev.attributes.at("change")
                                              : std::string();
  if (change == "removed" || change == "reference_removed") {
    ctx.clear_state();
    ctx.count("slice_jobs_cleared");
    return;
  }
  ctx.set_state(slice_result(ev.payload));
  ctx.count(change == "reference" ? "reference_jobs" : "slice_jobs");
}

} // namespace debian_slices
