// Change feeds through any member (issue 16): FeedRead answered from this
// member's changelog, and the feed_members of a subscription served here.
#include "feed_reads.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <mutex>

#include "cluster_messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/store/changelog.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

/// How long a subscription waits for another member's answer.
constexpr std::chrono::seconds feed_answer_timeout{5};

void to_wire(const member_view& in, v1::FeedData& out) {
  out.set_log_id(in.log_id);
  out.set_low(in.low);
  out.set_head(in.head);
  for (auto& h : in.held) {
    out.add_held_shards(h.shard);
    out.add_held_epochs(h.epoch);
    out.add_held_import_from(h.import_from);
    out.add_held_own_from(h.own_from);
  }
}

result<member_view> view_from_wire(const v1::FeedData& in) {
  member_view v;
  v.log_id = in.log_id();
  v.low = in.low();
  v.head = in.head();
  auto n = in.held_shards_size();
  if (in.held_epochs_size() != n || in.held_import_from_size() != n
      || in.held_own_from_size() != n)
    return fail(errc::parse, "a FeedData's held shards are not aligned");
  v.held.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v.held.push_back({in.held_shards(i), in.held_epochs(i),
                      in.held_import_from(i), in.held_own_from(i)});
  return v;
}

/// Reads a member's answer: its FeedData, or the error it replied.
result<v1::FeedData> feed_data_of(const std::string& bytes,
                                  const std::string& member) {
  v1::ClusterMessage m;
  if (!m.ParseFromString(bytes))
    return fail(errc::parse, member + " answered a feed read with "
                                 + std::to_string(bytes.size())
                                 + " bytes that do not parse");
  if (m.has_reply() && !m.reply().ok())
    return error_of(m.reply()).within(member);
  if (!m.has_feed_data())
    return fail(errc::parse,
                member + " answered a feed read with " + body_name(m));
  return std::move(*m.mutable_feed_data());
}

class cluster_feed_members final : public feed::feed_members {
public:
  cluster_feed_members(caf::actor_system& sys, caf::actor cluster_actor,
                       const store& st, std::string self,
                       std::shared_ptr<cluster_view> view)
      : sys_(sys), actor_(std::move(cluster_actor)), st_(st),
        self_(std::move(self)), view_(std::move(view)) {}

  std::vector<std::string> names() override {
    std::vector<std::string> out{self_};
    std::lock_guard<std::mutex> guard{view_->mtx};
    auto list = view_->nodes.find("nodes");
    if (list == view_->nodes.end() || !list->is_array())
      return out;
    for (auto& m : *list) {
      auto name = m.value("name", std::string{});
      auto status = m.value("status", std::string{});
      if (name.empty() || name == self_ || m.value("proxy", false)
          || status == "down" || status == "left")
        continue;
      out.push_back(std::move(name));
    }
    return out;
  }

  result<member_changes> changes(const std::string& name,
                                 const std::string& stage,
                                 const member_read& req) override {
    if (name == self_) {
      changelog_reader log{st_};
      auto id = log.stage(stage);
      if (!id)
        return id.error();
      return log.changes_held(*id, req);
    }
    v1::ClusterMessage m;
    auto* r = m.mutable_feed_read();
    r->set_stage(stage);
    r->set_after(req.after);
    r->set_resume(req.resume);
    if (req.resume)
      for (auto v : req.cursor)
        r->add_cursor(v);
    r->set_max(static_cast<std::uint32_t>(req.max));
    r->set_prefix(req.prefix);
    auto d = ask(name, m.SerializeAsString());
    if (!d)
      return d.error();
    member_changes out;
    auto view = view_from_wire(*d);
    if (!view)
      return view.error();
    out.view = std::move(*view);
    out.from = d->from();
    out.passed = d->passed();
    out.reset = d->reset();
    out.entries.reserve(static_cast<std::size_t>(d->entries_size()));
    for (auto& e : *d->mutable_entries()) {
      changelog_entry c;
      c.offset = e.offset();
      c.shard_offset = e.shard_offset();
      c.ts_ns = e.ts_ns();
      c.key = std::move(*e.mutable_key());
      c.version = e.version();
      c.key_state = std::move(*e.mutable_key_state());
      out.entries.push_back(std::move(c));
    }
    return out;
  }

  result<member_states> states(const std::string& name,
                               const std::string& stage,
                               const std::string& after_key, bool first,
                               const std::string& prefix,
                               std::size_t max) override {
    if (name == self_) {
      changelog_reader log{st_};
      auto id = log.stage(stage);
      if (!id)
        return id.error();
      return log.states_held(*id, after_key, first, prefix, max);
    }
    v1::ClusterMessage m;
    auto* r = m.mutable_feed_read();
    r->set_stage(stage);
    r->set_states(true);
    r->set_after_key(after_key);
    r->set_first(first);
    r->set_prefix(prefix);
    r->set_max(static_cast<std::uint32_t>(max));
    auto d = ask(name, m.SerializeAsString());
    if (!d)
      return d.error();
    member_states out;
    auto view = view_from_wire(*d);
    if (!view)
      return view.error();
    out.view = std::move(*view);
    out.next_key = d->next_key();
    out.last = d->last();
    out.states.reserve(static_cast<std::size_t>(d->entries_size()));
    for (auto& e : *d->mutable_entries())
      out.states.push_back({std::move(*e.mutable_key()), e.version(),
                            std::move(*e.mutable_key_state())});
    return out;
  }

private:
  /// A FeedRead to `member` through the cluster actor (it holds the links).
  result<v1::FeedData> ask(const std::string& member, std::string bytes) {
    caf::scoped_actor self{sys_};
    result<v1::FeedData> out = fail(errc::unavailable, "no answer");
    self->request(actor_, feed_answer_timeout, relay_atom::value, member,
                  std::move(bytes))
        .receive(
            [&](std::string& answer) { out = feed_data_of(answer, member); },
            [&](caf::error& e) {
              out = from_caf_error(e).within("asking " + member);
            });
    return out;
  }

  caf::actor_system& sys_;
  caf::actor actor_;
  const store& st_;
  std::string self_;
  std::shared_ptr<cluster_view> view_;
};

} // namespace

std::string receive_feed_read(cluster_actor* self, const v1::FeedRead& r) {
  auto& s = self->state;
  changelog_reader log{*s.ctx.st};
  auto id = log.stage(r.stage());
  if (!id)
    return reply_error(id.error());
  v1::ClusterMessage out;
  auto* d = out.mutable_feed_data();
  if (r.states()) {
    auto st =
        log.states_held(*id, r.after_key(), r.first(), r.prefix(), r.max());
    if (!st)
      return reply_error(st.error());
    to_wire(st->view, *d);
    d->set_next_key(st->next_key);
    d->set_last(st->last);
    for (auto& e : st->states) {
      auto* w = d->add_entries();
      w->set_key(e.key);
      w->set_version(e.version);
      w->set_key_state(e.key_state);
    }
    return out.SerializeAsString();
  }
  member_read req;
  req.after = r.after();
  req.resume = r.resume();
  req.cursor.assign(r.cursor().begin(), r.cursor().end());
  req.max = std::min<std::size_t>(r.max(), 4096);
  req.prefix = r.prefix();
  auto ch = log.changes_held(*id, req);
  if (!ch)
    return reply_error(ch.error());
  to_wire(ch->view, *d);
  d->set_from(ch->from);
  d->set_passed(ch->passed);
  d->set_reset(ch->reset);
  for (auto& e : ch->entries) {
    auto* w = d->add_entries();
    w->set_offset(e.offset);
    w->set_shard_offset(e.shard_offset);
    w->set_ts_ns(e.ts_ns);
    w->set_key(std::move(e.key));
    w->set_version(e.version);
    w->set_key_state(std::move(e.key_state));
  }
  return out.SerializeAsString();
}

std::shared_ptr<feed::feed_members>
make_feed_members(caf::actor_system& sys, caf::actor cluster_actor,
                  const store& st, std::string self,
                  std::shared_ptr<cluster_view> view) {
  return std::make_shared<cluster_feed_members>(
      sys, std::move(cluster_actor), st, std::move(self), std::move(view));
}

} // namespace sluice::cluster
