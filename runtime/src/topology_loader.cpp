// Reads a pipeline's YAML files (the root and its `include:`s) into one
// topology: the root's fields, topics and stages (read by stage_reader),
// then the whole-pipeline checks (topic references, cycles). Every failure is
// an error value naming the file, line and field. Pure functions.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "sluice/feed_reader.hpp"
#include "topology_loader.hpp"
#include "topology_values.hpp"
#include "topology_yaml.hpp"

namespace sluice::topology_yaml {

namespace fs = std::filesystem;

namespace {

/// Reads every file of a pipeline into one topology. Topic references are
/// remembered with their location and checked once all files are merged.
class loader {
public:
  result<topology> load(const std::string& text, const std::string& file,
                        const fs::path& base_dir, const std::string& canonical);

private:
  struct open_file {
    std::string canonical;
    std::string display;
  };

  result<void> load_document(const field& doc, const fs::path& base_dir,
                             bool root);
  result<void> load_root_fields(const strict_map& m);
  result<void> add_topics(const field& f);
  result<void> add_stages(const field& f);
  result<void> include_file(const field& entry, const fs::path& base_dir);
  result<void> check_not_included(const field& entry,
                                  const std::string& canonical,
                                  const std::string& display) const;
  result<void> check_topic_refs() const;

  topology topo_;
  std::map<std::string, std::string> topic_at_; // topic -> "file:line"
  std::vector<field> topic_refs_;               // subscribe/emits/feed topics
  stage_reader stages_{topic_refs_};
  std::optional<field> feed_;
  std::vector<open_file> stack_;                // the include chain
  std::map<std::string, std::string> included_; // canonical -> "file:line"
};

result<topology> loader::load(const std::string& text, const std::string& file,
                              const fs::path& base_dir,
                              const std::string& canonical) {
  stack_.push_back({canonical, file});
  auto node = parse_document(text, file);
  if (!node)
    return node.error();
  const field doc(*node, file, "");
  if (auto r = load_document(doc, base_dir, true); !r)
    return r.error();
  if (topo_.topics.empty())
    return doc.member(doc.node(), "topics").fail("no topics declared");
  if (auto r = check_topic_refs(); !r)
    return r.error();
  if (feed_) {
    auto topic = feed_->text();
    if (!topic)
      return topic.error();
    topo_.feed.topic = std::move(*topic);
  } else {
    topo_.feed.topic = topo_.topics.front();
  }
  for (auto& src : topo_.sources)
    if (src.topic.empty())
      src.topic = topo_.feed.topic;
  if (auto cycle = find_stage_cycle(topo_))
    return sluice::fail(errc::config,
                        file + ": stages form a cycle: " + *cycle);
  return std::move(topo_);
}

result<void> loader::load_document(const field& doc, const fs::path& base_dir,
                                   bool root) {
  auto m = root ? doc.fields({"pipeline", "topics", "feed", "sources",
                              "max_payload_bytes", "include", "stages",
                              "supervision", "reconciler"})
                : doc.fields({"include", "stages", "topics"});
  if (!m)
    return m.error();
  if (root) {
    auto pipeline = m->require("pipeline");
    if (!pipeline)
      return pipeline.error();
    auto name = pipeline->text();
    if (!name)
      return name.error();
    topo_.name = std::move(*name);
  }
  if (auto v = m->get("topics"))
    if (auto r = add_topics(*v); !r)
      return r;
  if (root)
    if (auto r = load_root_fields(*m); !r)
      return r;
  if (auto v = m->get("stages"))
    if (auto r = add_stages(*v); !r)
      return r;
  if (auto v = m->get("include")) {
    auto entries = v->items();
    if (!entries)
      return entries.error();
    for (const field& entry : *entries)
      if (auto r = include_file(entry, base_dir); !r)
        return r;
  }
  return {};
}

result<void> loader::load_root_fields(const strict_map& m) {
  if (auto v = m.get("feed")) {
    auto feed = v->fields({"topic", "key", "attributes", "format", "priority"});
    if (!feed)
      return feed.error();
    auto topic = feed->require("topic");
    if (!topic)
      return topic.error();
    feed_ = *topic;
    topic_refs_.push_back(*feed_);
    if (auto k = feed->get("key")) {
      auto key = k->text();
      if (!key)
        return key.error();
      topo_.feed.key = std::move(*key);
    }
    if (auto f = feed->get("format")) {
      auto name = f->text();
      if (!name)
        return name.error();
      if (!feed_reader::format_named(*name))
        return f->fail("unknown format '" + *name
                       + "' (expected tsv, debian, jsonl or lines)");
      topo_.feed.format = std::move(*name);
    }
    if (auto pr = feed->get("priority")) {
      auto name = pr->text();
      if (!name)
        return name.error();
      if (topo_.feed.format == "lines")
        return pr->fail("raw lines (format: lines) have no columns or "
                        "fields to take a priority from");
      topo_.feed.priority = std::move(*name);
    }
    if (auto a = feed->get("attributes")) {
      auto items = a->items();
      if (!items)
        return items.error();
      for (const auto& item : *items) {
        auto name = item.text();
        if (!name)
          return name.error();
        auto& names = topo_.feed.attributes;
        if (std::find(names.begin(), names.end(), *name) != names.end())
          return item.fail("attribute '" + *name + "' is listed twice");
        names.push_back(std::move(*name));
      }
    }
  }
  if (auto v = m.get("sources")) {
    auto sources = read_sources(*v, topic_refs_);
    if (!sources)
      return sources.error();
    topo_.sources = std::move(*sources);
  }
  if (auto v = m.get("max_payload_bytes")) {
    auto n = v->integer(1, std::numeric_limits<std::uint64_t>::max());
    if (!n)
      return n.error();
    topo_.max_payload_bytes = *n;
  }
  if (auto v = m.get("supervision")) {
    auto s = parse_supervision(*v, topo_.supervision);
    if (!s)
      return s.error();
    topo_.supervision = *s;
  }
  if (auto v = m.get("reconciler")) {
    auto reconciler = v->fields({"interval"});
    if (!reconciler)
      return reconciler.error();
    auto interval = reconciler->require("interval");
    if (!interval)
      return interval.error();
    auto every = parse_duration_field(*interval);
    if (!every)
      return every.error();
    topo_.reconcile_every = *every;
  }
  return {};
}

result<void> loader::add_topics(const field& f) {
  auto items = f.items();
  if (!items)
    return items.error();
  for (const field& item : *items) {
    auto topic = check_topic_name(item);
    if (!topic)
      return topic.error();
    const auto [at, fresh] = topic_at_.emplace(*topic, item.where());
    if (!fresh)
      return item.fail("duplicate topic '" + *topic + "' (first declared at "
                       + at->second + ")");
    topo_.topics.push_back(std::move(*topic));
  }
  return {};
}

result<void> loader::add_stages(const field& f) {
  auto items = f.items();
  if (!items)
    return items.error();
  for (const field& item : *items) {
    auto stage = stages_.read(item);
    if (!stage)
      return stage.error();
    topo_.stages.push_back(std::move(*stage));
  }
  return {};
}

// ---- includes ---------------------------------------------------------------

result<void> loader::include_file(const field& entry,
                                  const fs::path& base_dir) {
  auto read_name = entry.text();
  if (!read_name)
    return read_name.error();
  const std::string name = std::move(*read_name);
  const fs::path resolved = (base_dir / name).lexically_normal();
  const std::string display = resolved.string();
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    const std::string where =
        display == name ? "" : " (resolved to '" + display + "')";
    return entry.fail("include file '" + name + "' not found" + where,
                      errc::not_found);
  }
  const fs::path canonical_path = fs::weakly_canonical(resolved, ec);
  const std::string canonical = ec ? display : canonical_path.string();
  if (auto r = check_not_included(entry, canonical, display); !r)
    return r;
  const auto text = read_text(resolved);
  if (!text)
    return entry.fail("cannot read include file '" + display + "'", errc::io);
  included_.emplace(canonical, entry.where());
  stack_.push_back({canonical, display});
  auto node = parse_document(*text, display);
  if (!node)
    return node.error();
  const field doc(*node, display, "");
  if (auto r = load_document(doc, resolved.parent_path(), false); !r)
    return r;
  stack_.pop_back();
  return {};
}

result<void> loader::check_not_included(const field& entry,
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
    return entry.fail("include cycle: " + join(chain, " -> "));
  }
  if (const auto seen = included_.find(canonical); seen != included_.end()) {
    return entry.fail("'" + display + "' is already included at "
                      + seen->second);
  }
  return {};
}

// ---- whole-pipeline checks --------------------------------------------------

result<void> loader::check_topic_refs() const {
  for (const field& ref : topic_refs_) {
    auto topic = ref.text();
    if (!topic)
      return topic.error();
    if (!topic_at_.contains(*topic)) {
      return ref.fail("unknown topic '" + *topic
                      + "' (declared: " + join(topo_.topics, ", ") + ")");
    }
  }
  return {};
}

} // namespace

result<topology> load_pipeline(const std::string& text, const std::string& file,
                               const fs::path& base_dir,
                               const std::string& canonical) {
  return loader().load(text, file, base_dir, canonical);
}

} // namespace sluice::topology_yaml
