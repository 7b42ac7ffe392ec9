// The on-demand source: a catalog file indexed by key into LMDB once, and
// node::query, which ingests a key the pipeline has not seen (or refreshes
// one) as an urgent event and waits for the pipeline to finish with it.
// Concurrent queries for one key share one ingestion.
#include "on_demand.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <thread>

#include "node_impl.hpp"
#include "sluice/event_codec.hpp"
#include "sluice/feed_reader.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

namespace {

/// An ingestion nobody waits for is forgotten after this long (its event
/// may have failed for good, or gone to another cluster member).
constexpr auto ingestion_ttl = std::chrono::seconds(60);

/// True when the key's status says the pipeline is done with the event
/// `id` (or an event it emitted): done, or failed for good.
bool finished(store& st, const std::string& key, const std::string& id) {
  auto raw = st.read_status(key);
  if (!raw || !*raw)
    return false;
  v1::KeyStatus status;
  if (!status.ParseFromString(**raw))
    return false;
  auto& last = status.last_event_id();
  bool ours = last.compare(0, id.size(), id) == 0
              && (last.size() == id.size() || last[id.size()] == '>');
  return ours
         && (status.phase() == v1::PHASE_DONE
             || status.phase() == v1::PHASE_FAILED);
}

} // namespace

result<void> index_catalog_file(store& st, const std::string& path,
                                const feed_spec& feed) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0)
    return fail(errc::not_found, "--catalog " + path + ": no such file");
  // Indexed again when the file or the feed's key or attributes change.
  auto source = path + "|" + std::to_string(sb.st_size) + "|"
                + std::to_string(sb.st_mtime) + "|" + feed.key + "|"
                + feed.format;
  for (auto& a : feed.attributes)
    source += "|" + a;
  auto indexed = st.catalog_source();
  if (!indexed)
    return indexed.error();
  if (*indexed == source) {
    spdlog::info("catalog {}: indexed already", path);
    return {};
  }
  auto reader = feed_reader::open(path, feed_reader::options::from(feed));
  if (!reader)
    return reader.error().within("--catalog");
  std::vector<std::pair<std::string, std::string>> entries;
  std::size_t bad = 0;
  for (auto batch = (*reader)->next(4096); !batch.empty();
       batch = (*reader)->next(4096))
    for (auto& r : batch) {
      if (!r.ok) {
        ++bad; // the feed would dead-letter it; the catalog skips it
        continue;
      }
      auto key = r.ev.key;
      entries.emplace_back(std::move(key), encode_event(r.ev));
    }
  auto t0 = std::chrono::steady_clock::now();
  auto n = st.index_catalog(source, entries);
  if (!n)
    return n.error();
  spdlog::info("catalog {}: {} records indexed in {} ms ({} unreadable "
               "skipped)",
               path, *n,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count(),
               bad);
  return {};
}

result<query_answer> node::query(const std::string& stage,
                                 const std::string& key, query_options opts) {
  auto& p = *impl_;
  auto t0 = std::chrono::steady_clock::now();
  auto answer = [&](query_outcome o, std::string id) -> result<query_answer> {
    return query_answer{o, std::move(id),
                        std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - t0)};
  };
  if (p.stopped)
    return fail(errc::unavailable, "the node is stopped");
  auto& topo = p.plan()->topo();
  std::size_t index = topo.stages.size();
  std::string known;
  for (std::size_t i = 0; i < topo.stages.size(); ++i) {
    if (topo.stages[i].name == stage)
      index = i;
    known += (known.empty() ? "" : ", ") + topo.stages[i].name;
  }
  if (index == topo.stages.size())
    return fail(errc::not_found,
                "no stage '" + stage + "' (stages: " + known + ")");
  if (key.empty())
    return fail(errc::invalid_argument, "an empty key");
  if (topo.stages[index].stateless)
    return fail(errc::invalid_argument,
                "stage '" + stage
                    + "' keeps no state (state: none): query a stage that "
                      "keeps one");
  if (!opts.refresh) {
    auto s = p.st->read_state(p.plan()->stage_id(index), key);
    if (!s)
      return s.error();
    if (*s)
      return answer(query_outcome::known, {});
    if (!opts.ingest)
      return answer(query_outcome::not_found, {});
  }
  std::string id;
  {
    std::lock_guard<std::mutex> guard{p.ingestions_mtx};
    if (auto i = p.ingestions.find(key); i != p.ingestions.end()) {
      if (t0 - i->second.started < ingestion_ttl)
        id = i->second.id; // join it
      else
        p.ingestions.erase(i);
    }
  }
  if (id.empty()) {
    auto entry = p.st->catalog_entry(key);
    if (!entry)
      return entry.error();
    if (!*entry)
      return answer(query_outcome::not_found, {});
    auto ev = decode_event(**entry, "catalog entry " + key);
    if (!ev)
      return ev.error();
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    ev->id = "ondemand:" + key + "@" + std::to_string(now_ns);
    ev->priority = priority::urgent;
    ev->refresh = true;
    ev->ingest_ts_ns = now_ns;
    bool first = false;
    {
      std::lock_guard<std::mutex> guard{p.ingestions_mtx};
      auto [i, added] =
          p.ingestions.try_emplace(key, node::impl::ingestion{ev->id, t0});
      first = added;
      id = i->second.id; // another caller may have won the race
    }
    if (first) {
      auto topic = ev->topic;
      if (auto r = publish(topic, {std::move(*ev)}); !r) {
        std::lock_guard<std::mutex> guard{p.ingestions_mtx};
        p.ingestions.erase(key);
        return r.error();
      }
    }
  }
  // Poll the key's status: a read of one LMDB record, some microseconds.
  auto deadline = t0 + opts.wait;
  auto pause = std::chrono::microseconds(200);
  while (true) {
    if (finished(*p.st, key, id)) {
      std::lock_guard<std::mutex> guard{p.ingestions_mtx};
      if (auto i = p.ingestions.find(key);
          i != p.ingestions.end() && i->second.id == id)
        p.ingestions.erase(i);
      return answer(query_outcome::ingested, id);
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || p.stopped)
      return answer(query_outcome::pending, id);
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
}

} // namespace sluice
