// Slices of Debian's dependency graph: the full build of a suite's slices
// from its Packages index, then later indexes (updates, security) applied
// as batches, each timed against a full recompute of the same graph in the
// same run. Prints what each batch touched: slices changed and the
// packages in them, against all.
//
// usage: bench_slices [--min-in-degree N] [--recommends] [--repeat N]
//                     BASE.Packages [BATCH.Packages...]
// The files are decompressed Packages indexes (bench/slices_bench.sh
// fetches the machine's own). Figures are medians over --repeat runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "debian_slices/packages_index.hpp"
#include "sluice/slice_graph.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using debian_slices::graph_update;
using debian_slices::packages_index;
using sluice::slices::slice_change;
using sluice::slices::slice_graph;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

/// What one step (the base, or a batch) did, in one run.
struct step {
  std::string name;
  std::size_t entries = 0, upserts = 0, content = 0;
  std::size_t changed = 0, merged = 0, split = 0, removed = 0;
  std::size_t members_touched = 0, members_all = 0, slices_all = 0;
  std::size_t largest = 0, reference = 0, edges = 0, dangling = 0;
  double incremental_ms = 0, recompute_ms = 0;
  bool differs = false; ///< the incremental slices are not the recompute's
};

step run_step(const std::string& name, const packages_index& idx,
              debian_slices::suite_graph& suite, slice_graph& slices) {
  step s;
  s.name = name;
  s.entries = idx.packages.size();
  auto t0 = clock_type::now();
  auto up = suite.apply(idx.packages);
  for (auto& r : up.upserts) {
    slices.upsert(r.name, r.edges, r.content_changed);
    s.content += r.content_changed ? 1 : 0;
  }
  auto changes = slices.take_changes();
  s.incremental_ms = ms_since(t0);
  s.upserts = up.upserts.size();
  for (auto& c : changes) {
    switch (c.what) {
    case slice_change::kind::removed:
      ++s.removed;
      continue;
    case slice_change::kind::merged:
      ++s.merged;
      break;
    case slice_change::kind::split:
      ++s.split;
      break;
    case slice_change::kind::upserted:
      break;
    }
    ++s.changed;
    s.members_touched += c.members.size();
  }
  auto t1 = clock_type::now();
  auto full = slices.recompute();
  s.recompute_ms = ms_since(t1);
  auto stats = slices.stats();
  s.slices_all = stats.slices;
  s.largest = stats.largest;
  s.reference = stats.reference;
  s.edges = stats.edges;
  s.dangling = stats.dangling;
  for (auto& f : full)
    s.members_all += f.size();
  s.differs = full != slices.partition();
  return s;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace

int main(int argc, char** argv) {
  std::uint32_t min_in = 3;
  bool recommends = false;
  int repeat = 3;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--min-in-degree" && i + 1 < argc)
      min_in = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    else if (a == "--recommends")
      recommends = true;
    else if (a == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::stoi(argv[++i]));
    else
      files.push_back(a);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: bench_slices [--min-in-degree N] "
                         "[--recommends] [--repeat N] BASE [BATCH...]\n");
    return 2;
  }
  std::vector<packages_index> indexes;
  for (auto& f : files) {
    auto t0 = clock_type::now();
    auto text = read_file(f);
    if (!text) {
      std::fprintf(stderr, "bench_slices: cannot read %s\n", f.c_str());
      return 2;
    }
    indexes.push_back(debian_slices::parse_packages(*text, f));
    std::printf("read %s: %zu packages, %zu problems, %.0f ms\n", f.c_str(),
                indexes.back().packages.size(), indexes.back().problems.size(),
                ms_since(t0));
    for (std::size_t i = 0; i < indexes.back().problems.size() && i < 3; ++i)
      std::printf("  %s\n", indexes.back().problems[i].what.c_str());
  }
  std::vector<std::vector<step>> runs;
  for (int r = 0; r < repeat; ++r) {
    debian_slices::suite_graph suite(recommends);
    slice_graph slices({.min_in_degree = min_in, .listed = {}});
    std::vector<step> steps;
    for (std::size_t i = 0; i < indexes.size(); ++i)
      steps.push_back(
          run_step(std::filesystem::path(files[i]).filename().string(),
                   indexes[i], suite, slices));
    for (auto& s : steps)
      if (s.differs) {
        std::fprintf(stderr,
                     "%s: the incremental slices differ from the recompute\n",
                     s.name.c_str());
        return 1;
      }
    runs.push_back(std::move(steps));
  }
  std::printf("min_in_degree %u, recommends %s, medians of %d runs\n", min_in,
              recommends ? "yes" : "no", repeat);
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    std::vector<double> inc, full;
    for (auto& run : runs) {
      inc.push_back(run[i].incremental_ms);
      full.push_back(run[i].recompute_ms);
    }
    auto& s = runs.front()[i];
    std::printf(
        "%s: %zu entries -> %zu records upserted (%zu with new content); "
        "%zu slices changed (%zu merged, %zu split, %zu removed) holding "
        "%zu of %zu slice members (%.1f%%); now %zu slices, largest %zu, "
        "%zu reference packages, %zu edges, %zu dangling; incremental "
        "%.1f ms, full recompute %.1f ms (ratio %.3f)\n",
        s.name.c_str(), s.entries, s.upserts, s.content, s.changed, s.merged,
        s.split, s.removed, s.members_touched, s.members_all,
        s.members_all ? 100.0 * static_cast<double>(s.members_touched)
                            / static_cast<double>(s.members_all)
                      : 0.0,
        s.slices_all, s.largest, s.reference, s.edges, s.dangling, median(inc),
        median(full), median(full) > 0 ? median(inc) / median(full) : 0.0);
  }
  return 0;
}
