// Internal, with CAF: how a component beside the node (the cluster) plugs
// into it. The node calls the extension at three points of its start and
// once at its stop, and hands it the node's actors and store. Never
// installed; the public `node.hpp` only forward-declares it.
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/admin.hpp"
#include "sluice/feed/feed_members.hpp"
#include "sluice/pipeline_plan.hpp"
#include "sluice/placement.hpp"
#include "sluice/result.hpp"
#include "sluice/store/store.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace sluice {

class node;
class metrics;

/// What a member says of a topology file (`node_context::topology_here`).
struct topology_verdict {
  std::string digest; ///< of the files it read (root and stage files)
  std::vector<std::string> changes; ///< from its current topology, described
};

/// What a cluster-wide `topology apply` did.
struct topology_applied {
  std::vector<std::string> changes; ///< described, as every member saw them
  std::vector<std::string> members; ///< the members that applied them
};

/// Work for the store actor's thread, the node's single LMDB writer. It
/// runs after the pending batch commits; the report it returns reaches the
/// stages as a commit's would (appended events, a rewind).
using store_call = std::function<result<commit_report>(store&)>;

/// Messages an extension may send to the node's actors.
namespace ext {
/// To the store actor: (store_call_atom, store_call) -> (): an empty
/// reply on success, else the store_call's error as a caf::error of the
/// "sluice" category (`from_caf_error` in `sluice/caf_error.hpp`).
using store_call_atom = caf::atom_constant<caf::atom("storecall")>;
/// To the store actor: (outbox_watch_atom, caf::actor) -> the actor gets
/// (outbox_atom) after every commit that put events into the outbox.
using outbox_watch_atom = caf::atom_constant<caf::atom("outboxto")>;
/// From the store actor to the outbox watcher: the outbox grew.
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
/// To a stage supervisor: (let_go_atom, std::vector<std::uint32_t> shards)
/// -> std::uint64_t: forget the shards' keys, and tell how many of their
/// events are still in flight.
using let_go_atom = caf::atom_constant<caf::atom("letgo")>;
/// To the node supervisor: (stages_atom) -> std::vector<caf::actor>.
using stages_atom = caf::atom_constant<caf::atom("stages")>;
/// To the admin actor: (admin_atom, std::string AdminRequest) ->
/// std::string AdminResponse.
using admin_atom = caf::atom_constant<caf::atom("admin")>;
/// To the store actor of a replicated store: (replication_watch_atom,
/// caf::actor): the actor gets (replicated_atom, shard_positions) with the
/// replication seqs every commit wrote, and (outbox_fence_atom, u64): the
/// outbox entries below that seq were written by commits whose every
/// shard is below its high-watermark, so they may be forwarded. Until
/// then, and until the watermarks reach them, commits stay unanswered.
using replication_watch_atom = caf::atom_constant<caf::atom("replwatch")>;
using replicated_atom = caf::atom_constant<caf::atom("replicated")>;
using outbox_fence_atom = caf::atom_constant<caf::atom("obxfence")>;
/// To the store actor: (watermark_atom, shard_positions): the shards'
/// high-watermarks rose; commits below them are answered.
using watermark_atom = caf::atom_constant<caf::atom("watermark")>;
/// To the store actor: (shards_lost_atom, shard_positions): the shards are
/// no longer owned here; commits waiting on them are answered with an
/// error (errc::unavailable), never as done. The seqs are ignored.
using shards_lost_atom = caf::atom_constant<caf::atom("shardslost")>;
/// To the store actor: (outbox_forwarded_atom, outbox_positions): the
/// owners acknowledged these outbox entries (deleted here); commits that
/// wrote them for keys owned elsewhere may be answered.
using outbox_forwarded_atom = caf::atom_constant<caf::atom("obxfwded")>;
/// To the store actor of a replicated store: (replica_apply_atom,
/// std::vector<replog_entry>) -> replica_report: log records an owner
/// shipped, applied to this member's copies in the next commit's
/// transaction together with the pending batch and every other shipped
/// batch that arrived meanwhile (one fsync for all), answered once that
/// commit is durable (`store::apply_replicated` says what the report
/// holds). The pending batch commits as soon as the mailbox is empty.
using replica_apply_atom = caf::atom_constant<caf::atom("replapply")>;
} // namespace ext

/// Per shard, a replication seq (a record written, or a high-watermark).
struct shard_positions {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> items;
};

/// Outbox entries by (priority as u8, seq).
struct outbox_positions {
  std::vector<std::pair<std::uint8_t, std::uint64_t>> items;
};

/// What a node hands its extension once its actors run. Valid until the
/// extension's `stop` returns.
struct node_context {
  caf::actor_system* system = nullptr; ///< the node's actor system
  caf::actor store_actor; ///< accepts ext::store_call_atom, outbox_watch
  caf::actor supervisor;  ///< the node supervisor (ext::stages_atom)
  caf::actor admin;       ///< the console's commands; null without a token
  store* st = nullptr;    ///< for reads from any thread
  const pipeline_plan* plan = nullptr; ///< the topology, bound to the store
  sluice::metrics* metrics = nullptr;  ///< the node's metrics
  node* owner = nullptr;               ///< the node (stats from any thread)
  /// The logger of a component, e.g. "cluster".
  std::function<std::shared_ptr<spdlog::logger>(const std::string&)> logger;
  /// Reads the topology file `path` on this machine and checks it as a live
  /// apply would (a refusal is an error); given `apply_digest`, applies it
  /// too if its files' digest is still that one. Blocks: call it off the
  /// actor threads.
  std::function<result<topology_verdict>(const std::string& path,
                                         const std::string& apply_digest)>
      topology_here;
};

/// A component that runs beside a node's actors (the cluster). Made by the
/// caller, passed in `node_options::extension`; the node calls it from the
/// thread that starts and stops the node.
class node_extension {
public:
  virtual ~node_extension() = default;

  /// Before the actor system exists: load CAF modules, set options.
  virtual void configure(caf::actor_system_config& cfg) = 0;

  /// Whether the node's store is opened with `store_options::replicated`
  /// (replication records written in every commit, acknowledgements held
  /// until the shards' high-watermarks reach them).
  virtual bool replicated() const { return false; }
  /// After the store opened, before any actor runs: e.g. claim shards.
  virtual result<void> prepare(store& st) = 0;

  /// Once the node's actors run. An error stops the node's start.
  virtual result<void> start(const node_context& ctx) = 0;

  /// After `start`: the members change feeds read from, so that a
  /// subscription to this node delivers every member's shards (nullptr:
  /// this node's own).
  virtual std::shared_ptr<feed::feed_members> feed_members() { return nullptr; }

  /// True while the extension still has work that keeps the node from
  /// being drained (events in the outbox, a hand-off under way).
  virtual bool busy() const = 0;

  /// Answers console commands the node does not know (`nodes`, `shards`);
  /// nullopt for a command it does not know either.
  virtual std::optional<admin_answer>
  admin(const std::string& command, const std::vector<std::string>& args) = 0;

  /// `topology apply PATH` on a member: every member checks the file at
  /// PATH on its machine, and only when all would take it (and read the
  /// same files) does each apply it. The default refuses.
  virtual result<topology_applied> apply_topology(const std::string& path);

  /// A live apply changed the plan and started a new node supervisor.
  virtual void topology_changed(const pipeline_plan* plan,
                                caf::actor supervisor);

  /// Before the node's actors stop: stop the extension's actors.
  virtual void stop() = 0;
};

} // namespace sluice

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::store_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::shard_positions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::outbox_positions)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<sluice::replog_entry>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sluice::replica_report)
