// Why input was taken by no stage (see the header).
#include "unrouted_reasons.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace {
constexpr const char* other_reasons = "other reasons";
}

unrouted_reasons::unrouted_reasons(std::shared_ptr<spdlog::logger> log)
    : log_(std::move(log)) {}

void unrouted_reasons::note(const std::string& source, const std::string& why,
                            const std::string& where,
                            const std::string& counted_in) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& s = sources_[source];
  if (auto i = s.why.find(why); i != s.why.end()) {
    ++i->second;
    return;
  }
  if (s.why.size() >= max_reasons) {
    ++s.other;
    return;
  }
  s.why.emplace(why, 1);
  if (log_)
    log_->warn("{}: taken by no stage: {} (records like it are counted in {} "
               "and in the console's stages)",
               where, why, counted_in);
}

void unrouted_reasons::log_totals(const std::string& source) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto s = sources_.find(source);
  if (s == sources_.end() || !log_)
    return;
  for (auto& [why, n] : s->second.why)
    log_->warn("{}: {} record{} taken by no stage: {}", source, n,
               n == 1 ? "" : "s", why);
  if (s->second.other > 0)
    log_->warn("{}: {} more records taken by no stage, for {}", source,
               s->second.other, other_reasons);
}

std::vector<unrouted_reasons::entry> unrouted_reasons::snapshot() const {
  std::vector<entry> out;
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [source, s] : sources_) {
    auto first = out.size();
    for (auto& [why, n] : s.why)
      out.push_back({source, why, n});
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first),
                     out.end(),
                     [](auto& a, auto& b) { return a.records > b.records; });
    if (s.other > 0)
      out.push_back({source, other_reasons, s.other});
  }
  return out;
}

} // namespace sluice
