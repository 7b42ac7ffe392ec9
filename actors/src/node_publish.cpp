// node::publish and node::publish_and_wait: route the events, register
// those whose completion is tracked, and hand the appends to the store
// actor, which answers once they are committed.
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "messages.hpp"
#include "node_impl.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/node.hpp"

namespace sluice {

namespace {

/// node::publish, on a caller-pool thread. `tickets` gets the tracking
/// tickets of the events (with `opts.on_done`), in order.
result<void> publish_here(node::impl& p, const std::string& topic,
                          std::vector<event> events,
                          const publish_options& opts,
                          std::vector<std::uint64_t>& tickets) {
  write_batch b;
  auto now = now_ns();
  auto since = done_tracker::clock::now();
  std::size_t unrouted = 0;
  bool urgent = false;
  for (auto& ev : events) {
    urgent = urgent || ev.priority == priority::urgent;
    if (auto ok = p.plan()->check_payload_size(ev.payload.size()); !ok) {
      for (auto t : tickets)
        p.done->forget(t);
      return ok.error().within("event " + ev.id);
    }
    if (ev.ingest_ts_ns == 0)
      ev.ingest_ts_ns = now;
    if (ev.content_hash == 0)
      ev.content_hash = content_hash(ev.payload);
    auto id = ev.id; // for publish-once, and to name an unrouted event
    std::string why;
    auto appends = p.plan()->route(topic, std::move(ev), nullptr, &why);
    if (appends.empty()) {
      ++unrouted;
      p.unrouted->note("publish", why,
                       "published event " + id + " (topic " + topic + ")",
                       "sluice_publish_unrouted_total");
    }
    std::uint64_t ticket = 0;
    if (opts.on_done) {
      // Registered before the append is sent: no commit of it is missed.
      ticket = p.done->begin(id, static_cast<std::uint32_t>(appends.size()),
                             opts.on_done, since);
      tickets.push_back(ticket);
    }
    for (std::size_t i = 0; i < appends.size(); ++i) {
      if (opts.once) { // the first route checks the id, the others follow
        if (i == 0)
          appends[i].dedupe_id = id;
        else
          appends[i].dedupe_follow = true;
      }
      appends[i].done_ticket = ticket;
      b.appends.push_back(std::move(appends[i]));
    }
  }
  if (unrouted > 0)
    p.metrics
        .get_counter("sluice_publish_unrouted_total", {{"topic", topic}},
                     "Published events no subscription took")
        .add(unrouted);
  caf::scoped_actor self{*p.sys};
  result<void> out;
  auto on_error = [&](caf::error& err) {
    auto e = from_caf_error(err);
    out = fail(e.code, "publish failed: " + e.message);
  };
  // An urgent append overtakes the completions queued at the store.
  if (urgent)
    self->request<caf::message_priority::high>(
            p.store_actor, caf::infinite, msg::append_atom::value, std::move(b))
        .receive([]() {}, on_error);
  else
    self->request(p.store_actor, caf::infinite, msg::append_atom::value,
                  std::move(b))
        .receive([]() {}, on_error);
  if (!out)
    for (auto t : tickets)
      p.done->failed(t);
  return out;
}

/// node::publish, with the tickets of tracked events.
result<void> publish_tracked(node& n, node::impl& p, const std::string& topic,
                             std::vector<event> events,
                             const publish_options& opts,
                             std::vector<std::uint64_t>& tickets) {
  if (p.stopped)
    return fail(errc::unavailable, "the node is stopped");
  if (auto why = n.input_paused(); !why.empty())
    return fail(errc::no_space, why);
  try {
    return p.callers->run([&] {
      return publish_here(p, topic, std::move(events), opts, tickets);
    });
  } catch (const caller_pool::stopped&) {
    for (auto t : tickets)
      p.done->failed(t);
    return fail(errc::unavailable, "the node is stopping");
  }
}

} // namespace

result<void> node::publish(const std::string& topic, std::vector<event> events,
                           publish_options opts) {
  std::vector<std::uint64_t> tickets;
  return publish_tracked(*this, *impl_, topic, std::move(events), opts,
                         tickets);
}

result<std::vector<event_done>>
node::publish_and_wait(const std::string& topic, std::vector<event> events,
                       std::chrono::milliseconds wait, publish_options opts) {
  std::vector<std::string> ids;
  ids.reserve(events.size());
  for (auto& ev : events)
    ids.push_back(ev.id);
  done_waiter waiter{ids};
  opts.on_done = waiter.callback();
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<std::uint64_t> tickets;
  if (auto r = publish_tracked(*this, *impl_, topic, std::move(events), opts,
                               tickets);
      !r)
    return r.error();
  auto out = waiter.wait_until(deadline);
  // Those still pending stay so in the answer, and are no longer
  // tracked (a late outcome goes to the waiter, which no one reads).
  if (out.size() == tickets.size())
    for (std::size_t i = 0; i < out.size(); ++i)
      if (out[i].outcome == done_outcome::pending)
        impl_->done->forget(tickets[i]);
  return out;
}

} // namespace sluice
