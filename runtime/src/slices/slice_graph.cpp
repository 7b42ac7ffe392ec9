// The incremental slices (sluice/slice_graph.hpp): records with their
// edges both ways, each record's slice, each slice's members (disjoint
// sets merged small into large), and what changed since the last take;
// the union-find recompute. The byte format is slice_graph_bytes.cpp.
#include <algorithm>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "slice_graph_impl.hpp"

namespace sluice::slices {

std::string_view to_string(slice_change::kind k) noexcept {
  switch (k) {
  case slice_change::kind::upserted:
    return "upserted";
  case slice_change::kind::merged:
    return "merged";
  case slice_change::kind::split:
    return "split";
  case slice_change::kind::removed:
    break;
  }
  return "removed";
}

slice_graph::slice_graph(reference_rule rule)
    : impl_(std::make_unique<impl>()) {
  impl_->rule = std::move(rule);
}
slice_graph::~slice_graph() = default;
slice_graph::slice_graph(slice_graph&&) noexcept = default;
slice_graph& slice_graph::operator=(slice_graph&&) noexcept = default;

void slice_graph::upsert(std::string_view name_view,
                         std::vector<std::string> edges, bool changed) {
  auto& p = *impl_;
  std::string name(name_view);
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  bool self = false;
  if (auto it = std::find(edges.begin(), edges.end(), name);
      it != edges.end()) {
    edges.erase(it);
    self = true;
  }
  auto& n = p.nodes[name];
  bool was_present = n.present;
  auto old = std::exchange(n.out, edges);
  n.self_loop = self;
  n.present = true;
  // Edges gone: their targets lose a source; an edge inside a slice may
  // have held it together.
  std::vector<std::string> gone, added;
  std::set_difference(old.begin(), old.end(), edges.begin(), edges.end(),
                      std::back_inserter(gone));
  std::set_difference(edges.begin(), edges.end(), old.begin(), old.end(),
                      std::back_inserter(added));
  for (auto& t : gone) {
    auto& tn = p.nodes.at(t);
    tn.in.erase(name);
    if (tn.slice != 0 && tn.slice == p.nodes.at(name).slice)
      p.maybe_split.insert(tn.slice);
    p.refresh(t);
    p.forget_if_unused(t);
  }
  for (auto& t : added) {
    p.nodes[t].in.insert(name);
    p.refresh(t);
  }
  if (!was_present)
    p.refresh(name); // its sources may make it reference data at once
  p.connect(name);
  auto& now = p.nodes.at(name);
  if (was_present && changed && now.slice != 0) {
    p.touch(now.slice);
    p.content.insert(now.slice);
  }
}

void slice_graph::remove(std::string_view name_view) {
  auto& p = *impl_;
  std::string name(name_view);
  auto* n = p.find(name);
  if (n == nullptr || !n->present)
    return;
  p.leave(name);
  auto out = std::move(n->out);
  n->out.clear();
  n->present = false;
  n->reference = false;
  n->self_loop = false;
  for (auto& t : out) {
    p.nodes.at(t).in.erase(name);
    p.refresh(t);
    p.forget_if_unused(t);
  }
  p.forget_if_unused(name);
}

std::vector<slice_change> slice_graph::take_changes() {
  auto& p = *impl_;
  for (auto id : std::exchange(p.maybe_split, {}))
    p.split(id);
  std::set<slice_id> ids(p.born.begin(), p.born.end());
  for (auto& [id, m] : p.before)
    ids.insert(id);
  std::vector<slice_change> out;
  for (auto id : ids) {
    slice_change c;
    c.id = id;
    auto s = p.slices.find(id);
    if (s == p.slices.end()) {
      if (p.before.count(id)) { // existed at the last take
        c.what = slice_change::kind::removed;
        out.push_back(std::move(c));
      }
      continue;
    }
    c.members.assign(s->second.begin(), s->second.end());
    std::vector<slice_id> absorbed; // only slices someone was told about
    if (auto m = p.merged_from.find(id); m != p.merged_from.end())
      for (auto from : m->second)
        if (!p.born.count(from))
          absorbed.push_back(from);
    auto split = p.split_from.find(id);
    if (split != p.split_from.end() && !p.born.count(split->second)) {
      c.what = slice_change::kind::split;
      c.from.push_back(split->second);
    } else if (!absorbed.empty()) {
      c.what = slice_change::kind::merged;
      c.from = std::move(absorbed);
    } else if (p.born.count(id) || p.content.count(id)
               || p.before.at(id) != s->second) {
      c.what = slice_change::kind::upserted;
    } else {
      continue; // touched, found whole and unchanged
    }
    out.push_back(std::move(c));
  }
  p.before.clear();
  p.born.clear();
  p.content.clear();
  p.merged_from.clear();
  p.split_from.clear();
  return out;
}

std::optional<slice_id> slice_graph::slice_of(std::string_view name) const {
  auto* n = impl_->find(name);
  if (n == nullptr || n->slice == 0)
    return std::nullopt;
  return n->slice;
}

std::vector<std::string> slice_graph::members(slice_id id) const {
  auto s = impl_->slices.find(id);
  if (s == impl_->slices.end())
    return {};
  return {s->second.begin(), s->second.end()};
}

bool slice_graph::is_reference(std::string_view name) const {
  auto* n = impl_->find(name);
  return n != nullptr && n->reference;
}

bool slice_graph::contains(std::string_view name) const {
  auto* n = impl_->find(name);
  return n != nullptr && n->present;
}

std::vector<std::string> slice_graph::edges_of(std::string_view name) const {
  auto* n = impl_->find(name);
  return n != nullptr && n->present ? n->out : std::vector<std::string>{};
}

const reference_rule& slice_graph::rule() const {
  return impl_->rule;
}

void slice_graph::set_rule(reference_rule rule) {
  auto& p = *impl_;
  p.rule = std::move(rule);
  std::vector<std::string> present;
  for (auto& [name, n] : p.nodes)
    if (n.present)
      present.push_back(name);
  std::sort(present.begin(), present.end());
  for (auto& name : present)
    p.refresh(name);
}

std::vector<std::string> slice_graph::references_of(slice_id id) const {
  auto& p = *impl_;
  name_set refs;
  if (auto s = p.slices.find(id); s != p.slices.end())
    for (auto& m : s->second)
      for (auto& t : p.nodes.at(m).out)
        if (auto* tn = p.find(t); tn != nullptr && tn->reference)
          refs.insert(t);
  return {refs.begin(), refs.end()};
}

std::map<slice_id, std::vector<std::string>> slice_graph::slices() const {
  std::map<slice_id, std::vector<std::string>> out;
  for (auto& [id, m] : impl_->slices)
    out[id].assign(m.begin(), m.end());
  return out;
}

graph_stats slice_graph::stats() const {
  auto& p = *impl_;
  graph_stats s;
  for (auto& [name, n] : p.nodes) {
    if (!n.present)
      continue;
    ++s.records;
    s.reference += n.reference ? 1 : 0;
    s.self_loops += n.self_loop ? 1 : 0;
    for (auto& t : n.out) {
      auto* tn = p.find(t);
      if (tn != nullptr && tn->present)
        ++s.edges;
      else
        ++s.dangling;
    }
  }
  s.slices = p.slices.size();
  for (auto& [id, m] : p.slices)
    s.largest = std::max(s.largest, m.size());
  return s;
}

std::vector<std::vector<std::string>> slice_graph::recompute() const {
  auto& p = *impl_;
  // Everything again from the records alone: in-degrees, reference data,
  // then a union-find over the members.
  std::vector<std::string> names;
  std::unordered_map<std::string, std::size_t> index;
  for (auto& [name, n] : p.nodes)
    if (n.present) {
      index.emplace(name, names.size());
      names.push_back(name);
    }
  std::vector<std::size_t> in(names.size(), 0);
  for (auto& [name, n] : p.nodes)
    if (n.present)
      for (auto& t : n.out)
        if (auto it = index.find(t); it != index.end())
          ++in[it->second];
  std::vector<bool> ref(names.size(), false);
  for (std::size_t i = 0; i < names.size(); ++i)
    ref[i] = p.rule.listed.count(names[i]) > 0
             || (p.rule.min_in_degree > 0 && in[i] >= p.rule.min_in_degree);
  std::vector<std::size_t> parent(names.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](std::size_t x) {
    while (parent[x] != x)
      x = parent[x] = parent[parent[x]];
    return x;
  };
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (ref[i])
      continue;
    for (auto& t : p.nodes.at(names[i]).out)
      if (auto it = index.find(t); it != index.end() && !ref[it->second])
        parent[root(i)] = root(it->second);
  }
  std::map<std::size_t, std::vector<std::string>> groups;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!ref[i])
      groups[root(i)].push_back(names[i]);
  std::vector<std::vector<std::string>> out;
  for (auto& [r, g] : groups) {
    std::sort(g.begin(), g.end());
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::vector<std::string>> slice_graph::partition() const {
  std::vector<std::vector<std::string>> out;
  for (auto& [id, m] : impl_->slices)
    out.emplace_back(m.begin(), m.end());
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace sluice::slices
