// Feed file -> durable queue of the stages subscribed to the feed topic.
// Malformed records go to dead letters with file and line; nothing is
// dropped silently.
#include "feed_source.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <filesystem>
#include <map>
#include <string>

#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/dead_letter.hpp"
#include "sluice/feed_reader.hpp"
#include "sluice/v1/store.pb.h"
#include "unrouted_reasons.hpp"

namespace sluice {

std::string feed_source_name(const std::string& path) {
  if (path == feed_reader::standard_input)
    return "feed:stdin";
  std::error_code ec;
  auto abs = std::filesystem::weakly_canonical(path, ec);
  return "feed:" + (ec ? path : abs.string());
}

namespace {

struct feed_state {
  node_env env;
  std::string source_name;
  std::string shown; ///< in logs and dead letters: the path, or "stdin"
  caf::actor store;
  std::unique_ptr<feed_reader> reader;
  v1::SourceOffset progress;
  std::shared_ptr<spdlog::logger> log;
  counter* records = nullptr;
  counter* rejected = nullptr;
  counter* unrouted = nullptr;
};

/// Counts a record no stage took; the first of each reason is logged with
/// where it was read, and the feed's sums when it ends (`log_totals`).
void note_unrouted(feed_state& s, const std::string& why,
                   const std::string& where) {
  s.unrouted->add();
  if (s.env.unrouted)
    s.env.unrouted->note(s.shown, why, where, "sluice_feed_unrouted_total");
}

using feed_actor = caf::stateful_actor<feed_state>;

void read_batch(feed_actor* self) {
  auto& s = self->state;
  auto recs = s.reader->next(s.env.feed_batch);
  write_batch b;
  auto now = now_ns();
  auto& topic = s.env.plan->topo().feed.topic;
  for (auto& r : recs) {
    auto where = [&] { return s.shown + ":" + std::to_string(r.line); };
    if (!r.ok) {
      s.rejected->add();
      s.log->warn("{}", r.error);
      b.dead_letters.push_back(
          raw_dead_letter_record(where(), r.raw, now, r.error));
    } else if (auto size_ok =
                   s.env.plan->check_payload_size(r.ev.payload.size());
               !size_ok) {
      s.rejected->add();
      auto why = where() + ": " + size_ok.error().message;
      s.log->warn("{}", why);
      b.dead_letters.push_back(
          raw_dead_letter_record(where(), r.ev.payload, now, why));
    } else {
      r.ev.ingest_ts_ns = now;
      std::string why;
      auto appends = s.env.plan->route(topic, std::move(r.ev), nullptr, &why);
      if (appends.empty())
        note_unrouted(s, why, where());
      for (auto& a : appends)
        b.appends.push_back(std::move(a));
    }
    s.progress.set_byte_offset(r.end_offset);
    s.progress.set_records(s.progress.records() + 1);
  }
  s.progress.set_finished(recs.empty());
  b.progress.push_back({s.source_name, s.progress.SerializeAsString()});
  auto n = recs.size();
  self->request(s.store, caf::infinite, msg::append_atom::value, std::move(b))
      .then(
          [self, n]() {
            auto& s = self->state;
            s.records->add(n);
            if (s.progress.finished()) {
              s.log->info("{}: finished after {} records", s.shown,
                          s.progress.records());
              if (s.env.unrouted)
                s.env.unrouted->log_totals(s.shown);
              self->quit();
            } else {
              self->send(self, msg::read_atom::value);
            }
          },
          [self](caf::error& err) {
            self->state.log->error("{}: append failed: {}",
                                   self->state.source_name,
                                   describe_error(err));
            self->quit(err);
          });
}

caf::behavior feed_source(feed_actor* self, node_env env, std::string path,
                          caf::actor store) {
  auto& s = self->state;
  s.env = env;
  s.source_name = feed_source_name(path);
  const bool from_stdin = path == feed_reader::standard_input;
  s.shown = from_stdin ? "stdin" : path;
  s.store = std::move(store);
  s.log = env.logger("feed");
  labels l{{"source", path}};
  s.records = &env.metrics->get_counter("sluice_feed_records_total", l,
                                        "Feed records read");
  s.rejected = &env.metrics->get_counter("sluice_feed_rejected_total", l,
                                         "Feed records dead-lettered");
  s.unrouted = &env.metrics->get_counter("sluice_feed_unrouted_total", l,
                                         "Feed events no subscription took");
  if (auto prev = env.st->read_progress(s.source_name); prev && *prev)
    s.progress.ParseFromString(**prev);
  s.progress.set_source(s.source_name);
  if (s.progress.finished() && !env.refeed && !from_stdin) {
    self->quit();
    return {};
  }
  // Standard input is new input on every run: a new pass from its start.
  // Its offset is committed as a file's, but a pipe cannot go back to it.
  if (from_stdin && !s.progress.finished() && s.progress.byte_offset() > 0)
    s.log->warn(
        "stdin: the last run stopped at byte {} of its input, after {} "
        "records; standard input cannot be resumed as a file can: this "
        "input is read from its start (send what the last run did not read "
        "again; skip_unchanged stages skip what they already have)",
        s.progress.byte_offset(), s.progress.records());
  if (s.progress.finished() || (from_stdin && s.progress.byte_offset() > 0)) {
    // --refeed after a finished pass: a new pass from the start, recorded
    // with the first batch it commits.
    s.progress.set_pass(s.progress.pass() + 1);
    s.progress.set_byte_offset(0);
    s.progress.set_records(0);
    s.progress.set_finished(false);
  } else if (s.progress.pass() == 0) {
    s.progress.set_pass(1); // the first pass (or one from before passes)
  }
  auto& spec = env.plan->topo().feed;
  auto r = feed_reader::open(path, feed_reader::options::from(spec));
  if (!r) {
    s.log->error("{}", r.error().describe());
    self->quit(to_caf_error(r.error()));
    return {};
  }
  s.reader = std::move(*r);
  s.progress.set_file_size(s.reader->file_size());
  if (auto sk = s.reader->seek(s.progress.byte_offset()); !sk) {
    s.log->error("{}", sk.error().describe());
    self->quit(to_caf_error(sk.error()));
    return {};
  }
  self->send(self, msg::read_atom::value);
  return {
      [self](msg::read_atom) { read_batch(self); },
  };
}

} // namespace

caf::actor spawn_feed_source(caf::event_based_actor* parent, node_env env,
                             std::string path, caf::actor store_actor) {
  return parent->spawn<caf::linked + caf::detached>(
      feed_source, env, std::move(path), std::move(store_actor));
}

} // namespace sluice
