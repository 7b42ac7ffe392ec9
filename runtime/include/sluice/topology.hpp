// The pipeline topology: topics, stages and subscriptions, loaded from YAML.
// Plain values; immutable once loaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"
#include "sluice/stage_settings.hpp"
#include "sluice/supervision.hpp"

namespace sluice {

/// SNS-style filter policy: for each attribute, the values it accepts. An
/// event matches when every listed attribute is present with one of the
/// listed values. An empty policy matches everything.
struct filter_policy {
  /// Attribute name -> the values it accepts.
  std::map<std::string, std::set<std::string>> accept;

  /// True when `attributes` has every attribute of `accept` with one of its
  /// values; always true for an empty policy.
  bool matches(const std::map<std::string, std::string>& attributes) const;
};

/// How a subscription decides the priority class of the events it takes.
struct priority_rule {
  /// When set, events whose attribute `attribute` has one of `urgent_values`
  /// become urgent; all others keep their own priority.
  std::string attribute;
  /// The values of `attribute` that make an event urgent.
  std::set<std::string> urgent_values;
  /// When set, every event taken by this subscription gets this class.
  std::optional<sluice::priority> fixed;

  /// The class `ev` gets: `fixed` when set; else urgent when its
  /// `attribute` has one of `urgent_values`; else the event's own.
  sluice::priority apply(const event& ev) const;
};

/// A stage's interest in one topic.
struct subscription {
  std::string topic;      ///< a declared topic
  filter_policy filter;   ///< which of the topic's events the stage takes
  priority_rule priority; ///< sets the class of the events it takes
};

/// Retry policy for failed events (exponential backoff with jitter).
struct retry_policy {
  /// Tries in all, the first included; then the event is dead-lettered.
  std::uint32_t max_attempts = 5;
  /// The delay after the first failure, and the floor of every delay.
  std::chrono::milliseconds backoff_min{200};
  /// The cap of every delay (see `retry_delay`).
  std::chrono::milliseconds backoff_max{30000};
};

/// A stage's changelog, what change feeds read: every committed change of a
/// key's state (a new state or its removal), kept at least as long as this
/// says (by count or by age), never less.
struct changelog_policy {
  bool enabled = false; ///< `changelog:` is set: the stage keeps one
  /// Keep at least the last this many changes (0: keep by age).
  std::uint64_t retain_changes = 0;
  /// Keep at least the changes of this last span (0: keep by count).
  std::chrono::milliseconds retain_for{0};
  /// Equal when every field is.
  friend bool operator==(const changelog_policy&,
                         const changelog_policy&) = default;
};

/// One named step of a pipeline.
struct stage_spec {
  std::string name;      ///< unique in the pipeline; keys its store id
  std::string behaviour; ///< a name in the registry
  std::vector<subscription> subscribe; ///< what it takes; at least one
  /// The topics it may emit to: an emit to any other (to any topic, when
  /// empty) fails the event for good, a dead letter naming the topic.
  std::vector<std::string> emits;
  retry_policy retry; ///< how its failed events are retried
  /// How the stage supervisor restarts crashed key actors, and how many
  /// restarts it tolerates before the stage stops and escalates.
  supervision_policy supervision;
  /// The reconciler re-drives a key that waits longer than this for an
  /// event of this stage that is no longer queued.
  std::chrono::milliseconds stuck_after{std::chrono::minutes(5)};
  /// Acknowledge, without running the behaviour, an event whose payload
  /// hash equals that of the last event applied to its key (`--refeed`).
  bool skip_unchanged = false;
  /// `state: none`: the stage's behaviour keeps no state between events
  /// (it parses, maps or routes). Its commits write no state record and
  /// check no state version; each event still commits its effects and the
  /// key's status exactly once. A behaviour that calls `set_state` or
  /// `clear_state` there fails the event for good, naming the setting.
  /// Refused with `skip_unchanged` or `changelog:` (both read the state).
  bool stateless = false;
  std::uint32_t max_in_flight =
      2048; ///< credit: events dispatched, not committed
  std::uint32_t max_live_keys = 4096; ///< key actors kept before passivation
  /// A key actor idle this long is stopped (its key's state stays in LMDB;
  /// the next event starts one again), as Akka's idle passivation. 0: only
  /// `max_live_keys` passivates.
  std::chrono::milliseconds passivate_after{std::chrono::minutes(2)};
  /// `changelog: { retain: 10m | 100000 }`: subscribable by change feeds.
  changelog_policy changelog;
  /// `settings:`: the behaviour's own options (`behaviour::configure`),
  /// checked when the topology is bound to the registry.
  stage_settings settings;
  std::string source_file; ///< the YAML file that defined it
  int source_line = 0;     ///< 1-based line of its definition
};

/// Where the file feed (`--feed`) puts its events, and how records that
/// are not registry rows become events.
struct feed_spec {
  /// `feed.topic`, or the first declared topic when there is none.
  std::string topic;
  /// `feed.key`: the TSV column, Debian field or JSON-lines payload field
  /// that is a record's key (empty: `ecosystem/name`, `debian/Package`,
  /// and a JSON line's own "key").
  std::string key;
  /// `feed.attributes`: columns or fields copied into each event's
  /// attributes, for filter policies and `priority_from`.
  std::vector<std::string> attributes;
  /// `feed.format` (or `--format`): tsv, debian, jsonl or lines (each
  /// line an event of its own, key FILE-STEM/LINE); empty: told by the
  /// file's name and first line.
  std::string format;
  /// `feed.priority`: the column, field or payload field whose value
  /// (`urgent` or `normal`) is each record's priority class.
  std::string priority;
};

/// A source the node reads by itself while it runs (`sources:` in the
/// topology, or `--source URL`): PostgreSQL change capture. Each insert,
/// update and delete of its tables becomes an event whose position is
/// committed with it; see docs/OPERATIONS.md "Sources".
struct source_spec {
  /// `name`: names its progress record, its events' ids and its metrics
  /// (default: the slot's name).
  std::string name;
  /// `postgres`: a libpq connection string or URI.
  std::string connection;
  /// `slot`: the logical replication slot (output plugin wal2json).
  std::string slot;
  /// `tables`: "schema.table" (a bare name is in `public`), each with a
  /// primary key. An event's key is "TABLE/PRIMARY-KEY" (the schema kept
  /// when not public, the values of a composite key joined by '/').
  std::vector<std::string> tables;
  /// `topic`: where its events are published (default: the feed topic).
  std::string topic;
  /// `attributes`: fixed attributes added to each event, beside `table`
  /// and `operation` (insert, update, delete or snapshot).
  std::map<std::string, std::string> attributes;
  /// `create_slot`: create the slot when it does not exist.
  bool create_slot = false;
  /// `snapshot`: when it creates the slot, first read the tables at the
  /// slot's exported snapshot, then stream what followed, with no gap.
  bool snapshot = false;
  /// `poll`: how long it waits before asking again when nothing was new.
  std::chrono::milliseconds poll{std::chrono::milliseconds(100)};
  /// `batch`: changes per commit (a larger transaction is split, its
  /// position within it committed too).
  std::size_t batch = 1000;
  std::string source_file; ///< the YAML file that defined it
  int source_line = 0;     ///< 1-based line of its definition (0: --source)
};

/// A whole pipeline.
struct topology {
  std::string name;                ///< `pipeline:`, the pipeline's name
  std::vector<std::string> topics; ///< every declared topic, in order
  /// Every stage, a file's own before those of its includes. An index
  /// into this vector is the "stage index" of `route` and `pipeline_plan`.
  std::vector<stage_spec> stages;
  feed_spec feed; ///< where `--feed` records go
  /// `sources:`: what the node reads by itself (PostgreSQL change capture).
  std::vector<source_spec> sources;
  /// The largest payload accepted anywhere (feeds, publish, emits), in
  /// bytes.
  std::uint64_t max_payload_bytes = 1 << 20;
  /// The node supervisor's policy over its stage supervisors.
  supervision_policy supervision{restart_strategy::one_for_one, 3,
                                 std::chrono::milliseconds(60000)};
  /// How often the reconciler scans key status for stuck keys.
  std::chrono::milliseconds reconcile_every{std::chrono::seconds(30)};

  /// The stage named `name`, or nullptr.
  const stage_spec* find_stage(const std::string& name) const;

  /// A stage that takes an event, and the class the event gets there.
  struct route {
    std::size_t stage;         ///< an index into `stages`
    sluice::priority priority; ///< by the subscription's `priority_rule`
  };
  /// Every (stage index, priority) that takes `ev` published on `topic`, in
  /// stage order: at most one per stage, from its first subscription to
  /// `topic` whose filter matches.
  std::vector<route> routes(const std::string& topic, const event& ev) const;

  /// Why no stage takes `ev` published on `topic` (for an event `routes`
  /// gave nothing), for operators: "no stage subscribes to topic 'x'", or
  /// the event's attributes the filters refused and what each subscription
  /// takes, e.g. "ecosystem=feed matched no subscription: parse takes
  /// ecosystem debian, npm or pypi". Events alike get the same text, so it
  /// can be counted per reason.
  std::string why_unrouted(const std::string& topic, const event& ev) const;
};

/// Loads `path`, following `include:` entries relative to it. Errors name the
/// file, the 1-based line and the field, e.g.
/// "pipeline.yaml:14: stages[1].subscribe[0].topic: unknown topic 'x'".
result<topology> load_topology(const std::string& path);

/// Reads `--source URL`: a postgresql:// URL whose own parameters (slot,
/// tables, name, topic, create_slot, snapshot, poll, batch and attr.NAME)
/// are taken out and the rest left to libpq, e.g.
/// "postgresql://sluice@127.0.0.1:5432/shop?slot=s&tables=items,owners".
result<source_spec> parse_source_url(const std::string& url);

/// Adds a source given on the command line to `topo`: its topic (default:
/// the feed topic) must be declared and its name new.
result<void> add_source(topology& topo, source_spec s);

/// Parses YAML text; `origin` names it in errors. `include:` is resolved
/// against `base_dir`.
result<topology> parse_topology(const std::string& yaml_text,
                                const std::string& origin,
                                const std::string& base_dir = ".");

} // namespace sluice
