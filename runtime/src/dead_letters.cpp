// Decoding and filtering dead letters, and their JSON form.
#include "sluice/dead_letters.hpp"

#include <nlohmann/json.hpp>

#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

result<dead_letter_view> decode(std::uint32_t stage_id, std::uint64_t seq,
                                const std::string& bytes) {
  dead_letter_view v;
  v.ref = {stage_id, seq};
  v.id = std::to_string(stage_id) + ":" + std::to_string(seq);
  v1::DeadLetter dl;
  if (!dl.ParseFromString(bytes))
    return fail(errc::corrupt,
                "dead letter " + v.id + " is not a valid sluice.v1.DeadLetter");
  v.stage = dl.stage();
  v.key = dl.key();
  v.source = dl.source();
  v.redrivable = dl.has_event();
  if (dl.has_event()) {
    v.event_id = dl.event().id();
    v.topic = dl.event().topic();
    v.payload = dl.event().payload();
  } else {
    v.payload = dl.raw();
  }
  v.attempts = static_cast<std::uint32_t>(dl.attempts_size());
  for (auto& a : dl.attempts())
    v.errors.emplace_back(a.at_ts_ns(), a.error());
  if (!v.errors.empty()) {
    v.last_at_ns = v.errors.back().first;
    v.last_error = v.errors.back().second;
  }
  return v;
}

} // namespace

bool dead_letter_filter::matches(const dead_letter_view& v) const {
  if (!stage.empty() && v.stage != stage)
    return false;
  if (!key.empty() && v.key != key)
    return false;
  if (!error_contains.empty()
      && v.last_error.find(error_contains) == std::string::npos)
    return false;
  return true;
}

result<store::dead_letter_ref> parse_dead_letter_id(const std::string& text) {
  auto colon = text.find(':');
  auto bad = fail(errc::invalid_argument,
                  "'" + text
                      + "' is not a dead-letter id (STAGE_ID:SEQ, as "
                        "`sluice dlq list` prints)");
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return bad;
  try {
    std::size_t a = 0, b = 0;
    auto stage = std::stoul(text.substr(0, colon), &a);
    auto seq = std::stoull(text.substr(colon + 1), &b);
    if (a != colon || b != text.size() - colon - 1 || stage > UINT32_MAX)
      return bad;
    return store::dead_letter_ref{static_cast<std::uint32_t>(stage), seq};
  } catch (const std::exception&) {
    return bad;
  }
}

result<std::vector<dead_letter_view>>
list_dead_letters(const store& st, const dead_letter_filter& filter) {
  std::vector<dead_letter_view> out;
  error failure;
  bool failed = false;
  auto r = st.scan_dead_letters(
      [&](std::uint32_t stage, std::uint64_t seq, const std::string& bytes) {
        auto v = decode(stage, seq, bytes);
        if (!v) {
          failure = v.error();
          failed = true;
          return false;
        }
        if (filter.matches(*v))
          out.push_back(std::move(*v));
        return true;
      });
  if (!r)
    return r.error();
  if (failed)
    return failure;
  return out;
}

result<dead_letter_view> show_dead_letter(const store& st,
                                          store::dead_letter_ref ref) {
  std::optional<result<dead_letter_view>> found;
  auto r = st.scan_dead_letters(
      [&](std::uint32_t stage, std::uint64_t seq, const std::string& bytes) {
        if (stage == ref.first && seq == ref.second) {
          found = decode(stage, seq, bytes);
          return false;
        }
        return true;
      });
  if (!r)
    return r.error();
  if (!found)
    return fail(errc::not_found, "no dead letter " + std::to_string(ref.first)
                                     + ":" + std::to_string(ref.second) + " in "
                                     + st.dir());
  return std::move(*found);
}

std::string to_json(const dead_letter_view& v, bool with_payload) {
  nlohmann::json j;
  j["id"] = v.id;
  j["stage"] = v.stage;
  j["key"] = v.key;
  j["event_id"] = v.event_id;
  j["topic"] = v.topic;
  if (!v.source.empty())
    j["source"] = v.source;
  j["attempts"] = v.attempts;
  j["last_error"] = v.last_error;
  j["last_at_ns"] = v.last_at_ns;
  j["redrivable"] = v.redrivable;
  if (with_payload) {
    j["payload"] = v.payload;
    auto& errs = j["errors"] = nlohmann::json::array();
    for (auto& [at, e] : v.errors)
      errs.push_back({{"at_ns", at}, {"error", e}});
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace sluice
