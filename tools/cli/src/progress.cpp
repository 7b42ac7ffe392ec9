// Rendering of the progress bar and the run summary.
#include "progress.hpp"

#include "table.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

namespace sluice::cli {

namespace {

std::uint64_t total_done(const node_stats& s) {
  std::uint64_t n = 0;
  for (auto& st : s.stages)
    n += st.done + st.skipped + st.failed;
  return n;
}

} // namespace

progress::progress(std::ostream& out, bool tty)
    : out_(out), tty_(tty), start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void progress::update(const node_stats& s) {
  auto now = std::chrono::steady_clock::now();
  auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::seconds(2);
  if (now - last_print_ < every && !final_)
    return;
  last_print_ = now;
  std::uint64_t off = 0, size = 0, recs = 0;
  bool feeding = false;
  for (auto& f : s.feeds) {
    off += f.offset;
    size += f.size;
    recs += f.records;
    feeding = feeding || !f.finished;
  }
  double frac =
      size ? static_cast<double>(off) / static_cast<double>(size) : 1.0;
  constexpr int width = 20;
  int filled = static_cast<int>(frac * width);
  std::ostringstream line;
  line << '[' << std::string(filled, '#') << std::string(width - filled, '.')
       << "] " << std::setw(3) << static_cast<int>(frac * 100) << "% "
       << (feeding ? "feeding " : "draining ")
       << human(static_cast<double>(recs)) << " recs |";
  for (auto& st : s.stages)
    line << ' ' << st.name << ' '
         << human(static_cast<double>(st.done + st.skipped));
  double secs = std::chrono::duration<double>(now - start_).count();
  line << " | "
       << human(static_cast<double>(total_done(s)) / std::max(secs, 1e-3))
       << " ev/s | queued " << human(static_cast<double>(s.queued));
  if (s.timers_pending > 0)
    line << " | timers " << human(static_cast<double>(s.timers_pending));
  if (tty_)
    out_ << '\r' << line.str() << "\x1b[K" << std::flush;
  else
    out_ << line.str() << '\n' << std::flush;
}

void progress::finish(const node_stats& s, const std::string& data_dir) {
  final_ = true;
  update(s);
  if (tty_)
    out_ << '\n';
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  std::uint64_t recs = 0;
  for (auto& f : s.feeds)
    recs += f.records;
  out_ << "\nsummary: " << recs << " feed records, " << total_done(s)
       << " stage events in " << std::fixed << std::setprecision(2) << secs
       << " s ("
       << human(static_cast<double>(total_done(s)) / std::max(secs, 1e-3))
       << " stage events/s), " << s.commits << " commits\n";
  std::uint64_t unrouted = 0;
  for (auto& f : s.feeds)
    unrouted += f.unrouted;
  if (unrouted > 0)
    out_ << "  " << unrouted << " feed record" << (unrouted == 1 ? "" : "s")
         << " taken by no stage: no subscription's filter matched (the "
            "warnings above say which values each stage takes)\n";
  out_ << "  " << std::left << std::setw(12) << "stage" << std::right
       << std::setw(10) << "in" << std::setw(10) << "done" << std::setw(10)
       << "skipped" << std::setw(10) << "failed" << std::setw(10) << "queued"
       << '\n';
  for (auto& st : s.stages)
    out_ << "  " << std::left << std::setw(12) << st.name << std::right
         << std::setw(10) << st.in << std::setw(10) << st.done << std::setw(10)
         << st.skipped << std::setw(10) << st.failed << std::setw(10)
         << st.queued_urgent + st.queued_normal << '\n';
  out_ << "data: " << data_dir << "  (inspect: sluice export --data "
       << data_dir << " --stage "
       << (s.stages.empty() ? "NAME" : s.stages.back().name) << ")\n";
}

} // namespace sluice::cli
