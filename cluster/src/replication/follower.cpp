// Follower side of replicated shards: records shipped by a shard's owner
// are applied to this member's copy (in the store's next commit, with
// every other batch shipped meanwhile: one transaction with the positions,
// so a batch applied twice changes nothing), and
// snapshots replace a copy. Records of an epoch older than the one the
// controller's table gives the shard are refused: a cut-off owner's
// records never count towards its acknowledgements.
#include <caf/event_based_actor.hpp>

#include "replication/replication.hpp"
#include "sluice/caf_error.hpp"
#include "wire.hpp"

namespace sluice::cluster {

namespace {

/// The epoch the controller's table gives `shard` (0: not in the table).
std::uint64_t table_epoch(const cluster_state& s, std::uint32_t shard) {
  if (!s.assignments)
    return 0;
  auto it = s.assignments->find(shard);
  return it == s.assignments->end() ? 0 : it->second.value.epoch;
}

void fill(v1::ReplPosition& p, const store& st, std::uint32_t shard) {
  p.set_shard(shard);
  auto pos = st.replica_position(shard);
  if (pos && *pos) {
    p.set_has_copy(true);
    p.set_epoch((*pos)->epoch);
    p.set_seq((*pos)->seq);
  }
}

void refuse(v1::ReplPosition& p, errc code, const std::string& why) {
  p.set_code(static_cast<std::uint32_t>(code));
  p.set_error(why);
}

} // namespace

caf::result<std::string> receive_replicate(cluster_actor* self,
                                           const std::string& from,
                                           const v1::Replicate& m) {
  auto& s = self->state;
  if (!s.replicated)
    return reply_error(
        fail(errc::invalid_argument, "this member runs without replication"));
  auto answer = std::make_shared<v1::ClusterMessage>();
  auto* ack = answer->mutable_replicate_ack();
  for (auto shard : m.probe()) {
    if (shard >= shard_count)
      continue;
    auto* p = ack->add_positions();
    fill(*p, *s.ctx.st, shard);
    if (s.place->state(shard) != shard_state::remote)
      refuse(*p, errc::invalid_argument,
             s.opts.name + " owns shard " + std::to_string(shard));
  }
  auto entries = std::make_shared<std::vector<replog_entry>>();
  std::map<std::uint32_t, std::string> fenced;
  for (auto& e : m.entries()) {
    if (e.shard() >= shard_count)
      return reply_error(fail(errc::parse, "replication record of shard "
                                               + std::to_string(e.shard())));
    auto known = table_epoch(s, e.shard());
    if (e.epoch() < known) {
      fenced[e.shard()] = "epoch " + std::to_string(e.epoch()) + " of shard "
                          + std::to_string(e.shard())
                          + " is over: the controller gave it epoch "
                          + std::to_string(known);
      continue;
    }
    entries->push_back(
        {e.shard(), e.epoch(), e.seq(), e.record(), e.base_epoch()});
  }
  for (auto& [shard, why] : fenced) {
    auto* p = ack->add_positions();
    fill(*p, *s.ctx.st, shard);
    refuse(*p, errc::invalid_argument, why);
  }
  if (entries->empty())
    return answer->SerializeAsString();
  // The store applies it in its next commit, with its pending batch and
  // whatever else was shipped meanwhile (one transaction, one fsync), and
  // answers once that commit is durable: only then do we acknowledge.
  auto rp = self->make_response_promise<std::string>();
  self->request<caf::message_priority::high>(s.ctx.store_actor, caf::infinite,
                                             ext::replica_apply_atom::value,
                                             std::move(*entries))
      .then(
          [rp, answer](replica_report& report) mutable {
            auto* ack = answer->mutable_replicate_ack();
            for (auto& o : report.shards) {
              auto* p = ack->add_positions();
              p->set_shard(o.shard);
              p->set_has_copy(o.at.epoch > 0);
              p->set_epoch(o.at.epoch);
              p->set_seq(o.at.seq);
              if (o.refused)
                refuse(*p, o.refused->code, o.refused->message);
            }
            rp.deliver(answer->SerializeAsString());
          },
          [rp, from](caf::error& e) mutable {
            rp.deliver(reply_error(from_caf_error(e).within(
                "applying replication records from " + from + " failed")));
          });
  return rp;
}

caf::result<std::string> receive_repl_snapshot(cluster_actor* self,
                                               const std::string& from,
                                               const v1::ReplSnapshot& m) {
  auto& s = self->state;
  if (!s.replicated || m.shard() >= shard_count)
    return reply_error(
        fail(errc::invalid_argument,
             "unexpected snapshot of shard " + std::to_string(m.shard())));
  auto shard = m.shard();
  repl_position at{m.epoch(), m.seq()};
  auto known = table_epoch(s, shard);
  v1::ClusterMessage answer;
  auto* p = answer.mutable_replicate_ack()->add_positions();
  if (at.epoch < known) {
    fill(*p, *s.ctx.st, shard);
    refuse(*p, errc::invalid_argument,
           "snapshot of shard " + std::to_string(shard) + " at epoch "
               + std::to_string(at.epoch) + ": the controller gave it epoch "
               + std::to_string(known));
    return answer.SerializeAsString();
  }
  auto chunks = std::make_shared<std::vector<std::string>>(m.chunks().begin(),
                                                           m.chunks().end());
  store_call fn = [shard, at, chunks](store& st) -> result<commit_report> {
    if (auto r = st.install_snapshot(shard, at, *chunks); !r)
      return r.error();
    return commit_report{};
  };
  auto rp = self->make_response_promise<std::string>();
  call_store(self, fn, [rp, shard, at, from](const result<void>& done) mutable {
    v1::ClusterMessage a;
    auto* p = a.mutable_replicate_ack()->add_positions();
    p->set_shard(shard);
    if (!done) {
      refuse(*p, done.error().code,
             "installing the snapshot from " + from
                 + " failed: " + done.error().describe());
    } else {
      p->set_has_copy(true);
      p->set_epoch(at.epoch);
      p->set_seq(at.seq);
    }
    rp.deliver(a.SerializeAsString());
  });
  return rp;
}

} // namespace sluice::cluster
