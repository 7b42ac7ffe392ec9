#include "done_tracker.hpp"

namespace sluice {

std::uint64_t done_tracker::begin(const std::string& id, std::uint32_t routes,
                                  done_callback cb, clock::time_point since) {
  std::vector<fired> out;
  std::uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ticket = next_ticket_++;
    auto [i, made] = entries_.try_emplace(id);
    if (made) {
      i->second.totals.id = id;
      live_.store(entries_.size());
    }
    i->second.outstanding += routes;
    i->second.waiters.push_back({ticket, routes, std::move(cb), since});
    tickets_.emplace(ticket, id);
    if (i->second.outstanding <= 0)
      end(i, done_outcome::done, out);
  }
  call(out);
  return ticket;
}

done_tracker::map_type::iterator done_tracker::entry_of(std::uint64_t ticket) {
  auto t = tickets_.find(ticket);
  return t == tickets_.end() ? entries_.end() : entries_.find(t->second);
}

void done_tracker::forget(std::uint64_t ticket) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entry_of(ticket);
  if (i == entries_.end())
    return;
  std::erase_if(i->second.waiters,
                [&](const waiter& w) { return w.ticket == ticket; });
  tickets_.erase(ticket);
  if (i->second.waiters.empty()) {
    entries_.erase(i);
    live_.store(entries_.size());
  }
}

done_tracker::map_type::iterator done_tracker::find_root(std::string_view id) {
  // Roots before descendants: "a>s.0>t.1" may belong to "a" or, if that
  // id was published itself, to "a>s.0".
  for (auto pos = id.find('>'); pos != std::string_view::npos;
       pos = id.find('>', pos + 1))
    if (auto i = entries_.find(std::string(id.substr(0, pos)));
        i != entries_.end())
      return i;
  return entries_.find(std::string(id));
}

void done_tracker::end(map_type::iterator i, done_outcome o,
                       std::vector<fired>& out) {
  auto now = clock::now();
  for (auto& w : i->second.waiters) {
    auto d = i->second.totals;
    d.outcome = o;
    d.took = now - w.since;
    out.push_back({std::move(w.cb), std::move(d)});
    tickets_.erase(w.ticket);
  }
  entries_.erase(i);
  live_.store(entries_.size());
}

void done_tracker::end_one(std::uint64_t ticket, done_outcome o,
                           std::vector<fired>& out) {
  auto i = entry_of(ticket);
  if (i == entries_.end())
    return;
  tickets_.erase(ticket);
  auto& ws = i->second.waiters;
  for (auto w = ws.begin(); w != ws.end(); ++w) {
    if (w->ticket != ticket)
      continue;
    i->second.outstanding -= w->routes;
    auto d = i->second.totals;
    d.outcome = o;
    d.took = clock::now() - w->since;
    out.push_back({std::move(w->cb), std::move(d)});
    ws.erase(w);
    break;
  }
  if (ws.empty()) {
    entries_.erase(i);
    live_.store(entries_.size());
  } else if (i->second.outstanding <= 0) {
    end(i, done_outcome::done, out);
  }
}

void done_tracker::call(std::vector<fired>& out) {
  for (auto& f : out)
    if (f.cb)
      f.cb(f.outcome);
}

void done_tracker::settle(const std::vector<settled_event>& settled) {
  std::vector<fired> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& s : settled) {
      if (entries_.empty())
        break;
      auto i = find_root(s.event_id);
      if (i == entries_.end())
        continue;
      auto& e = i->second;
      e.outstanding += static_cast<std::int64_t>(s.queued) - 1;
      ++e.totals.processed;
      e.totals.forwarded += s.forwarded;
      e.totals.dead_lettered += s.dead_lettered ? 1 : 0;
      if (e.outstanding <= 0)
        end(i, done_outcome::done, out);
    }
  }
  call(out);
}

void done_tracker::forwarded(std::uint64_t ticket) {
  std::vector<fired> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = entry_of(ticket);
    if (i == entries_.end())
      return;
    --i->second.outstanding;
    ++i->second.totals.forwarded;
    if (i->second.outstanding <= 0)
      end(i, done_outcome::done, out);
  }
  call(out);
}

void done_tracker::duplicate(std::uint64_t ticket) {
  std::vector<fired> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    end_one(ticket, done_outcome::duplicate, out);
  }
  call(out);
}

void done_tracker::failed(std::uint64_t ticket) {
  std::vector<fired> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    end_one(ticket, done_outcome::failed, out);
  }
  call(out);
}

void done_tracker::close() {
  std::vector<fired> out;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    while (!entries_.empty())
      end(entries_.begin(), done_outcome::abandoned, out);
  }
  call(out);
}

std::size_t done_tracker::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return entries_.size();
}

} // namespace sluice
