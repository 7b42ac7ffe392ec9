// Metric primitives and the Prometheus text rendering.
#include "sluice/metrics.hpp"

#include <bit>
#include <sstream>

namespace sluice {

void gauge::set(std::int64_t v) noexcept {
  value_.store(v);
  auto p = peak_.load();
  while (v > p && !peak_.compare_exchange_weak(p, v)) {
  }
}

void histogram::observe_us(std::uint64_t us) noexcept {
  std::size_t i =
      us <= 1 ? 0 : static_cast<std::size_t>(std::bit_width(us - 1));
  if (i > bucket_count)
    i = bucket_count;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(us, std::memory_order_relaxed);
  auto m = max_.load();
  while (us > m && !max_.compare_exchange_weak(m, us)) {
  }
}

std::uint64_t histogram::quantile_us(double q) const noexcept {
  auto total = count();
  if (total == 0)
    return 0;
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total));
  if (rank >= total)
    rank = total - 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i <= bucket_count; ++i) {
    seen += buckets_[i].load();
    if (seen > rank)
      return i == bucket_count ? max_us() : std::min(bound_us(i), max_us());
  }
  return max_us();
}

template <class T>
T& metrics::get(std::map<std::string, family<T>>& fams, const std::string& name,
                const labels& l, const std::string& help) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& fam = fams[name];
  if (fam.help.empty())
    fam.help = help;
  auto& ptr = fam.series[l];
  if (!ptr)
    ptr = std::make_unique<T>();
  return *ptr;
}

counter& metrics::get_counter(const std::string& name, const labels& l,
                              const std::string& help) {
  return get(counters_, name, l, help);
}

gauge& metrics::get_gauge(const std::string& name, const labels& l,
                          const std::string& help) {
  return get(gauges_, name, l, help);
}

histogram& metrics::get_histogram(const std::string& name, const labels& l,
                                  const std::string& help) {
  return get(histograms_, name, l, help);
}

std::uint64_t metrics::counter_value(const std::string& name,
                                     const labels& l) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto f = counters_.find(name);
  if (f == counters_.end())
    return 0;
  auto s = f->second.series.find(l);
  return s == f->second.series.end() ? 0 : s->second->value();
}

namespace {

std::string render_labels(const labels& l, const std::string& extra = "") {
  if (l.empty() && extra.empty())
    return "";
  std::string out = "{";
  bool first = true;
  for (auto& [k, v] : l) {
    out += (first ? "" : ",") + k + "=\"";
    for (char c : v) {
      if (c == '"' || c == '\\')
        out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    out += "\"";
    first = false;
  }
  if (!extra.empty())
    out += (first ? "" : ",") + extra;
  return out + "}";
}

void header(std::ostringstream& os, const std::string& name,
            const std::string& help, const char* type) {
  if (!help.empty())
    os << "# HELP " << name << ' ' << help << '\n';
  os << "# TYPE " << name << ' ' << type << '\n';
}

} // namespace

std::string metrics::render_prometheus() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::ostringstream os;
  for (auto& [name, fam] : counters_) {
    header(os, name, fam.help, "counter");
    for (auto& [l, c] : fam.series)
      os << name << render_labels(l) << ' ' << c->value() << '\n';
  }
  for (auto& [name, fam] : gauges_) {
    header(os, name, fam.help, "gauge");
    for (auto& [l, g] : fam.series)
      os << name << render_labels(l) << ' ' << g->value() << '\n';
  }
  for (auto& [name, fam] : histograms_) {
    header(os, name, fam.help, "histogram");
    // Durations are kept in microseconds and shown in seconds; any other
    // histogram (a commit's record count) shows its values as they are.
    const double scale = name.ends_with("_seconds") ? 1e6 : 1.0;
    auto bound = [&](std::uint64_t v) {
      auto x = static_cast<double>(v) / scale;
      return scale == 1.0 ? std::to_string(v) : std::to_string(x);
    };
    for (auto& [l, h] : fam.series) {
      std::uint64_t cum = 0;
      for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        cum += h->bucket(i);
        os << name << "_bucket"
           << render_labels(l, "le=\"" + bound(histogram::bound_us(i)) + "\"")
           << ' ' << cum << '\n';
      }
      os << name << "_bucket" << render_labels(l, "le=\"+Inf\"") << ' '
         << h->count() << '\n';
      os << name << "_sum" << render_labels(l) << ' '
         << static_cast<double>(h->sum_us()) / scale << '\n';
      os << name << "_count" << render_labels(l) << ' ' << h->count() << '\n';
    }
  }
  return os.str();
}

} // namespace sluice
