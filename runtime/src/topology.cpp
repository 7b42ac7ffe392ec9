// Loads and validates a pipeline topology from YAML (following `include:`),
// and answers the routing questions the runtime asks of it: which stages take
// an event, and at which priority.
#include "sluice/topology.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <utility>

#include "topology_yaml.hpp"

namespace sluice {

namespace fs = std::filesystem;

// ---- runtime queries --------------------------------------------------------

bool filter_policy::matches(
    const std::map<std::string, std::string>& attributes) const {
  return std::all_of(accept.begin(), accept.end(), [&](const auto& entry) {
    const auto found = attributes.find(entry.first);
    return found != attributes.end() && entry.second.contains(found->second);
  });
}

priority priority_rule::apply(const event& ev) const {
  if (fixed)
    return *fixed;
  if (!attribute.empty()) {
    const auto found = ev.attributes.find(attribute);
    if (found != ev.attributes.end() && urgent_values.contains(found->second)) {
      return priority::urgent;
    }
  }
  return ev.priority;
}

const stage_spec* topology::find_stage(const std::string& stage_name) const {
  for (const stage_spec& stage : stages) {
    if (stage.name == stage_name)
      return &stage;
  }
  return nullptr;
}

std::vector<topology::route> topology::routes(const std::string& topic,
                                              const event& ev) const {
  std::vector<route> out;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    for (const subscription& sub : stages[i].subscribe) {
      if (sub.topic == topic && sub.filter.matches(ev.attributes)) {
        out.push_back(route{i, sub.priority.apply(ev)});
        break;
      }
    }
  }
  return out;
}

// ---- YAML schema
// --------------------------------------------------------------

namespace {

using topology_yaml::check_stage_name;
using topology_yaml::check_topic_name;
using topology_yaml::config_failure;
using topology_yaml::field;
using topology_yaml::parse_duration_field;
using topology_yaml::parse_filter;
using topology_yaml::parse_priority;
using topology_yaml::parse_priority_from;
using topology_yaml::parse_retry;
using topology_yaml::parse_supervision;
using topology_yaml::strict_map;

constexpr std::uint64_t max_in_flight_limit = 1'000'000;
constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

/// Reads every file of a pipeline into one topology. Topic references are
/// remembered with their location and checked once all files are merged.
class loader {
public:
  topology load(const std::string& text, const std::string& file,
                const fs::path& base_dir, const std::string& canonical);

private:
  struct open_file {
    std::string canonical;
    std::string display;
  };

  void load_document(const field& doc, const fs::path& base_dir, bool root);
  void load_root_fields(const strict_map& m);
  void add_topics(const field& f);
  void add_stages(const field& f);
  stage_spec parse_stage(const field& f);
  subscription parse_subscription(const field& f);
  std::vector<std::string> parse_emits(const field& f);
  void include_file(const field& entry, const fs::path& base_dir);
  void check_not_included(const field& entry, const std::string& canonical,
                          const std::string& display) const;
  void check_topic_refs() const;
  void check_acyclic(const std::string& root_file) const;

  topology topo_;
  std::map<std::string, std::string> topic_at_; // topic -> "file:line"
  std::map<std::string, std::string> stage_at_; // stage name -> "file:line"
  std::vector<field> topic_refs_;               // subscribe/emits/feed topics
  std::optional<field> feed_;
  std::vector<open_file> stack_;                // the include chain
  std::map<std::string, std::string> included_; // canonical -> "file:line"
};

topology loader::load(const std::string& text, const std::string& file,
                      const fs::path& base_dir, const std::string& canonical) {
  stack_.push_back({canonical, file});
  const field doc(topology_yaml::parse_document(text, file), file, "");
  load_document(doc, base_dir, true);
  if (topo_.topics.empty())
    doc.member(doc.node(), "topics").fail("no topics declared");
  check_topic_refs();
  topo_.feed.topic = feed_ ? feed_->text() : topo_.topics.front();
  check_acyclic(file);
  return std::move(topo_);
}

void loader::load_document(const field& doc, const fs::path& base_dir,
                           bool root) {
  const strict_map m =
      root ? doc.fields({"pipeline", "topics", "feed", "max_payload_bytes",
                         "include", "stages", "supervision", "reconciler"})
           : doc.fields({"include", "stages", "topics"});
  if (root)
    topo_.name = m.require("pipeline").text();
  if (auto v = m.get("topics"))
    add_topics(*v);
  if (root)
    load_root_fields(m);
  if (auto v = m.get("stages"))
    add_stages(*v);
  if (auto v = m.get("include")) {
    for (const field& entry : v->items())
      include_file(entry, base_dir);
  }
}

void loader::load_root_fields(const strict_map& m) {
  if (auto v = m.get("feed")) {
    feed_ = v->fields({"topic"}).require("topic");
    topic_refs_.push_back(*feed_);
  }
  if (auto v = m.get("max_payload_bytes")) {
    topo_.max_payload_bytes =
        v->integer(1, std::numeric_limits<std::uint64_t>::max());
  }
  if (auto v = m.get("supervision"))
    topo_.supervision = parse_supervision(*v, topo_.supervision);
  if (auto v = m.get("reconciler"))
    topo_.reconcile_every =
        parse_duration_field(v->fields({"interval"}).require("interval"));
}

void loader::add_topics(const field& f) {
  for (const field& item : f.items()) {
    std::string topic = check_topic_name(item);
    const auto [at, fresh] = topic_at_.emplace(topic, item.where());
    if (!fresh)
      item.fail("duplicate topic '" + topic + "' (first declared at "
                + at->second + ")");
    topo_.topics.push_back(std::move(topic));
  }
}

void loader::add_stages(const field& f) {
  for (const field& item : f.items()) {
    stage_spec stage = parse_stage(item);
    topo_.stages.push_back(std::move(stage));
  }
}

stage_spec loader::parse_stage(const field& f) {
  const strict_map m = f.fields(
      {"name", "behaviour", "subscribe", "emits", "retry", "skip_unchanged",
       "max_in_flight", "max_live_keys", "supervision", "stuck_after"});
  stage_spec stage;
  const field name = m.require("name");
  stage.name = check_stage_name(name);
  const auto [at, fresh] = stage_at_.emplace(stage.name, f.where());
  if (!fresh) {
    name.fail("duplicate stage name '" + stage.name + "' (first defined at "
              + at->second + ")");
  }
  stage.behaviour = m.require("behaviour").text();
  const field subscribe = m.require("subscribe");
  for (const field& item : subscribe.items())
    stage.subscribe.push_back(parse_subscription(item));
  if (stage.subscribe.empty())
    subscribe.fail("list at least one subscription");
  if (auto v = m.get("emits"))
    stage.emits = parse_emits(*v);
  if (auto v = m.get("retry"))
    stage.retry = parse_retry(*v);
  if (auto v = m.get("supervision"))
    stage.supervision = parse_supervision(*v, stage.supervision);
  if (auto v = m.get("stuck_after"))
    stage.stuck_after = parse_duration_field(*v);
  if (auto v = m.get("skip_unchanged"))
    stage.skip_unchanged = v->boolean();
  if (auto v = m.get("max_in_flight")) {
    stage.max_in_flight =
        static_cast<std::uint32_t>(v->integer(1, max_in_flight_limit));
  }
  if (auto v = m.get("max_live_keys")) {
    stage.max_live_keys = static_cast<std::uint32_t>(v->integer(1, u32_max));
  }
  stage.source_file = f.file();
  stage.source_line = f.line();
  return stage;
}

subscription loader::parse_subscription(const field& f) {
  const strict_map m =
      f.fields({"topic", "filter", "priority", "priority_from"});
  subscription sub;
  const field topic = m.require("topic");
  sub.topic = topic.text();
  topic_refs_.push_back(topic);
  if (auto v = m.get("filter"))
    sub.filter = parse_filter(*v);
  const auto fixed = m.get("priority");
  const auto from = m.get("priority_from");
  if (fixed && from)
    from->fail("cannot be combined with priority; use one of them");
  if (fixed)
    sub.priority.fixed = parse_priority(*fixed);
  if (from)
    parse_priority_from(*from, sub.priority);
  return sub;
}

std::vector<std::string> loader::parse_emits(const field& f) {
  std::vector<std::string> topics;
  for (const field& item : f.items()) {
    std::string topic = item.text();
    if (std::find(topics.begin(), topics.end(), topic) != topics.end()) {
      item.fail("topic '" + topic + "' is listed twice");
    }
    topic_refs_.push_back(item);
    topics.push_back(std::move(topic));
  }
  return topics;
}

// ---- includes
// -------------------------------------------------------------------

void loader::include_file(const field& entry, const fs::path& base_dir) {
  const std::string name = entry.text();
  const fs::path resolved = (base_dir / name).lexically_normal();
  const std::string display = resolved.string();
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    const std::string where =
        display == name ? "" : " (resolved to '" + display + "')";
    entry.fail("include file '" + name + "' not found" + where,
               errc::not_found);
  }
  const fs::path canonical_path = fs::weakly_canonical(resolved, ec);
  const std::string canonical = ec ? display : canonical_path.string();
  check_not_included(entry, canonical, display);
  const auto text = topology_yaml::read_text(resolved);
  if (!text)
    entry.fail("cannot read include file '" + display + "'", errc::io);
  included_.emplace(canonical, entry.where());
  stack_.push_back({canonical, display});
  const field doc(topology_yaml::parse_document(*text, display), display, "");
  load_document(doc, resolved.parent_path(), false);
  stack_.pop_back();
}

void loader::check_not_included(const field& entry,
                                const std::string& canonical,
                                const std::string& display) const {
  const auto open =
      std::find_if(stack_.begin(), stack_.end(), [&](const open_file& f) {
        return f.canonical == canonical;
      });
  if (open != stack_.end()) {
    std::vector<std::string> chain;
    for (auto it = open; it != stack_.end(); ++it)
      chain.push_back(it->display);
    chain.push_back(display);
    entry.fail("include cycle: " + topology_yaml::join(chain, " -> "));
  }
  if (const auto seen = included_.find(canonical); seen != included_.end()) {
    entry.fail("'" + display + "' is already included at " + seen->second);
  }
}

// ---- whole-pipeline checks
// ---------------------------------------------------------

void loader::check_topic_refs() const {
  for (const field& ref : topic_refs_) {
    const std::string topic = ref.text();
    if (!topic_at_.contains(topic)) {
      ref.fail("unknown topic '" + topic + "' (declared: "
               + topology_yaml::join(topo_.topics, ", ") + ")");
    }
  }
}

/// Depth-first search over "stage A emits a topic stage B subscribes to".
class cycle_finder {
public:
  explicit cycle_finder(const topology& topo)
      : topo_(topo), state_(topo.stages.size(), state::unseen) {}

  /// "a -> b -> a (via topics t, u)", or empty when the graph is acyclic.
  std::string find() {
    for (std::size_t i = 0; i < topo_.stages.size() && found_.empty(); ++i) {
      if (state_[i] == state::unseen)
        visit(i);
    }
    return found_;
  }

private:
  enum class state { unseen, open, done };

  bool subscribes(std::size_t stage, const std::string& topic) const {
    const auto& subs = topo_.stages[stage].subscribe;
    return std::any_of(subs.begin(), subs.end(),
                       [&](const subscription& s) { return s.topic == topic; });
  }

  void visit(std::size_t i) {
    state_[i] = state::open;
    path_.push_back(i);
    for (const std::string& topic : topo_.stages[i].emits) {
      for (std::size_t j = 0; j < topo_.stages.size() && found_.empty(); ++j) {
        if (!subscribes(j, topic))
          continue;
        if (state_[j] == state::open)
          return report(j, topic);
        via_.push_back(topic);
        if (state_[j] == state::unseen)
          visit(j);
        via_.pop_back();
      }
      if (!found_.empty())
        return;
    }
    path_.pop_back();
    state_[i] = state::done;
  }

  void report(std::size_t back_to, const std::string& last_topic) {
    const auto start =
        std::find(path_.begin(), path_.end(), back_to) - path_.begin();
    std::vector<std::string> names;
    for (auto k = static_cast<std::size_t>(start); k < path_.size(); ++k) {
      names.push_back(topo_.stages[path_[k]].name);
    }
    names.push_back(topo_.stages[back_to].name);
    std::vector<std::string> topics(via_.begin() + start, via_.end());
    topics.push_back(last_topic);
    found_ = topology_yaml::join(names, " -> ")
             + (topics.size() == 1 ? " (via topic " : " (via topics ")
             + topology_yaml::join(topics, ", ") + ")";
  }

  const topology& topo_;
  std::vector<state> state_;
  std::vector<std::size_t> path_;
  std::vector<std::string> via_;
  std::string found_;
};

void loader::check_acyclic(const std::string& root_file) const {
  const std::string cycle = cycle_finder(topo_).find();
  if (!cycle.empty())
    topology_yaml::raise(errc::config,
                         root_file + ": stages form a cycle: " + cycle);
}

// ---- public entry points
// ---------------------------------------------------------

result<topology> guarded(const std::string& origin,
                         const std::function<topology()>& body) {
  try {
    return body();
  } catch (const config_failure& failure) {
    return failure.err;
  } catch (const YAML::Exception& e) {
    return fail(errc::config,
                topology_yaml::location(origin, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return fail(errc::config, origin + ": " + e.what());
  } catch (...) {
    return fail(errc::config,
                origin + ": unexpected error while loading the topology");
  }
}

} // namespace

result<topology> parse_topology(const std::string& yaml_text,
                                const std::string& origin,
                                const std::string& base_dir) {
  return guarded(
      origin, [&] { return loader().load(yaml_text, origin, base_dir, ""); });
}

result<topology> load_topology(const std::string& path) {
  return guarded(path, [&] {
    std::error_code ec;
    if (!fs::exists(path, ec))
      topology_yaml::raise(errc::not_found, path + ": no such file");
    if (!fs::is_regular_file(path, ec))
      topology_yaml::raise(errc::io, path + ": not a regular file");
    const auto text = topology_yaml::read_text(path);
    if (!text)
      topology_yaml::raise(errc::io, path + ": cannot read the file");
    const fs::path canonical = fs::weakly_canonical(path, ec);
    return loader().load(*text, path, fs::path(path).parent_path(),
                         ec ? path : canonical.string());
  });
}

} // namespace sluice
