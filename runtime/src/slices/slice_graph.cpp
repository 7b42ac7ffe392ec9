// The incremental slices (sluice/slice_graph.hpp): records with their
// edges both ways, each record's slice, each slice's members (disjoint
// sets merged small into large), and what changed since the last take.
#include "sluice/slice_graph.hpp"

#include <algorithm>
#include <deque>
#include <numeric>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace sluice::slices {

namespace {

using name_set = std::set<std::string, std::less<>>;

struct node {
  bool present = false;         ///< has a record (else only a target)
  bool self_loop = false;       ///< its record named itself (ignored)
  bool reference = false;       ///< present and reference data
  std::vector<std::string> out; ///< targets, sorted, unique, not itself
  name_set in;                  ///< present records with an edge to it
  slice_id slice = 0;           ///< 0: in none
};

} // namespace

struct slice_graph::impl {
  reference_rule rule;
  std::unordered_map<std::string, node> nodes;
  std::unordered_map<slice_id, name_set> slices;
  slice_id next_id = 1;

  // What changed since the last take.
  std::map<slice_id, name_set> before; ///< members at the first touch
  std::set<slice_id> born;             ///< created since
  std::set<slice_id> content;          ///< a member's record changed
  std::map<slice_id, std::set<slice_id>> merged_from;
  std::map<slice_id, slice_id> split_from;
  std::set<slice_id> maybe_split; ///< lost an edge or a member

  node* find(std::string_view name) {
    auto it = nodes.find(std::string(name));
    return it == nodes.end() ? nullptr : &it->second;
  }
  const node* find(std::string_view name) const {
    auto it = nodes.find(std::string(name));
    return it == nodes.end() ? nullptr : &it->second;
  }
  static bool member(const node& n) { return n.present && !n.reference; }

  void touch(slice_id id) {
    if (born.count(id) || before.count(id))
      return;
    if (auto s = slices.find(id); s != slices.end())
      before.emplace(id, s->second);
  }

  slice_id create(const std::string& first) {
    auto id = next_id++;
    slices[id].insert(first);
    nodes[first].slice = id;
    born.insert(id);
    return id;
  }

  /// The slices of a and b become one: the larger keeps its id.
  void unite(slice_id a, slice_id b) {
    if (a == b || a == 0 || b == 0)
      return;
    auto& sa = slices.at(a);
    auto& sb = slices.at(b);
    bool keep_a = sa.size() > sb.size() || (sa.size() == sb.size() && a < b);
    auto big = keep_a ? a : b, small = keep_a ? b : a;
    touch(big);
    touch(small);
    auto moved = std::move(slices.at(small));
    slices.erase(small);
    auto& into = slices.at(big);
    for (auto& m : moved) {
      nodes.at(m).slice = big;
      into.insert(m);
    }
    auto& from = merged_from[big];
    from.insert(small);
    if (auto f = merged_from.find(small); f != merged_from.end()) {
      from.insert(f->second.begin(), f->second.end());
      merged_from.erase(f);
    }
    if (maybe_split.erase(small) > 0)
      maybe_split.insert(big);
    if (content.erase(small) > 0)
      content.insert(big);
  }

  /// The members `n` is joined to: present non-reference targets and
  /// sources.
  template <class Fn>
  void each_neighbour(const node& n, Fn fn) const {
    for (auto& t : n.out)
      if (auto it = nodes.find(t); it != nodes.end() && member(it->second))
        fn(it->first, it->second);
    for (auto& s : n.in)
      if (auto it = nodes.find(s); it != nodes.end() && member(it->second))
        fn(it->first, it->second);
  }

  /// A member joins (or stays in) a slice with every member it touches.
  void connect(const std::string& name) {
    auto& n = nodes.at(name);
    if (!member(n))
      return;
    if (n.slice == 0)
      create(name);
    // By name: a merge may absorb the slice a later neighbour was in.
    std::vector<std::string> others;
    each_neighbour(nodes.at(name), [&](const std::string& m, const node&) {
      others.push_back(m);
    });
    for (auto& o : others)
      unite(nodes.at(name).slice, nodes.at(o).slice);
  }

  /// `name` leaves its slice (removed, or reference data now).
  void leave(const std::string& name) {
    auto& n = nodes.at(name);
    if (n.slice == 0)
      return;
    auto id = std::exchange(n.slice, 0);
    touch(id);
    auto& members = slices.at(id);
    members.erase(name);
    if (members.empty()) {
      slices.erase(id);
      maybe_split.erase(id);
    } else {
      maybe_split.insert(id);
    }
  }

  bool should_be_reference(const std::string& name, const node& n) const {
    if (!n.present)
      return false;
    if (rule.listed.count(name) > 0)
      return true;
    return rule.min_in_degree > 0 && n.in.size() >= rule.min_in_degree;
  }

  void refresh(const std::string& name) {
    auto& n = nodes.at(name);
    bool should = should_be_reference(name, n);
    if (should == n.reference)
      return;
    n.reference = should;
    if (should)
      leave(name);
    else
      connect(name);
  }

  /// Drops an absent node nothing points at.
  void forget_if_unused(const std::string& name) {
    auto it = nodes.find(name);
    if (it != nodes.end() && !it->second.present && it->second.in.empty())
      nodes.erase(it);
  }

  /// Splits slice `id` into its connected parts: the largest keeps the id
  /// (ties: the one holding the smallest member), the others get new ids.
  void split(slice_id id) {
    auto s = slices.find(id);
    if (s == slices.end())
      return;
    std::vector<name_set> parts;
    std::unordered_set<std::string> seen;
    for (auto& start : s->second) {
      if (seen.count(start))
        continue;
      name_set part;
      std::deque<std::string> todo{start};
      seen.insert(start);
      while (!todo.empty()) {
        auto cur = std::move(todo.front());
        todo.pop_front();
        each_neighbour(nodes.at(cur), [&](const std::string& m, const node&) {
          if (seen.insert(m).second)
            todo.push_back(m);
        });
        part.insert(std::move(cur));
      }
      parts.push_back(std::move(part));
    }
    if (parts.size() < 2)
      return;
    touch(id);
    // Sets iterate in order, so parts[i] begins with its smallest member
    // and the parts come in the order of those: the first largest wins.
    std::size_t keep = 0;
    for (std::size_t i = 1; i < parts.size(); ++i)
      if (parts[i].size() > parts[keep].size())
        keep = i;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i == keep)
        continue;
      auto nid = next_id++;
      for (auto& m : parts[i])
        nodes.at(m).slice = nid;
      born.insert(nid);
      split_from[nid] = id;
      if (content.count(id))
        content.insert(nid);
      slices[nid] = std::move(parts[i]);
    }
    s->second = std::move(parts[keep]);
  }
};

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

namespace {

constexpr std::string_view magic = "sluice.slices/1";

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view v) {
  put_u64(out, v.size());
  out.append(v);
}

/// Reads what put_u64 and put_str wrote; any short read fails it.
struct reader {
  std::string_view in;
  bool ok = true;
  std::uint64_t u64() {
    if (in.size() < 8) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i]))
           << (8 * i);
    in.remove_prefix(8);
    return v;
  }
  std::string str() {
    auto n = u64();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string v(in.substr(0, n));
    in.remove_prefix(n);
    return v;
  }
};

} // namespace

std::string slice_graph::serialize() const {
  auto& p = *impl_;
  std::string out(magic);
  put_u64(out, p.rule.min_in_degree);
  put_u64(out, p.rule.listed.size());
  for (auto& l : p.rule.listed)
    put_str(out, l);
  put_u64(out, p.next_id);
  std::vector<const std::pair<const std::string, node>*> present;
  for (auto& e : p.nodes)
    if (e.second.present)
      present.push_back(&e);
  std::sort(present.begin(), present.end(),
            [](auto* a, auto* b) { return a->first < b->first; });
  put_u64(out, present.size());
  for (auto* e : present) {
    put_str(out, e->first);
    put_u64(out, e->second.slice);
    put_u64(out, e->second.self_loop ? 1 : 0);
    put_u64(out, e->second.out.size());
    for (auto& t : e->second.out)
      put_str(out, t);
  }
  put_u64(out, p.maybe_split.size());
  for (auto id : p.maybe_split)
    put_u64(out, id);
  return out;
}

result<slice_graph> slice_graph::parse(std::string_view bytes) {
  auto bad = [](const std::string& what) {
    return fail(errc::corrupt, "slice graph: " + what);
  };
  if (bytes.substr(0, magic.size()) != magic)
    return bad("does not start with '" + std::string(magic) + "'");
  reader r{bytes.substr(magic.size())};
  reference_rule rule;
  rule.min_in_degree = static_cast<std::uint32_t>(r.u64());
  for (auto n = r.u64(); r.ok && n > 0; --n)
    rule.listed.insert(r.str());
  slice_graph g(std::move(rule));
  auto& p = *g.impl_;
  p.next_id = r.u64();
  auto count = r.u64();
  for (std::uint64_t i = 0; r.ok && i < count; ++i) {
    auto name = r.str();
    auto& n = p.nodes[name];
    if (n.present)
      return bad("record '" + name + "' appears twice");
    n.present = true;
    n.slice = r.u64();
    n.self_loop = r.u64() != 0;
    for (auto e = r.u64(); r.ok && e > 0; --e)
      n.out.push_back(r.str());
    if (!std::is_sorted(n.out.begin(), n.out.end()))
      return bad("the edges of '" + name + "' are not sorted");
    for (auto& t : n.out)
      p.nodes[t].in.insert(name);
  }
  for (auto n = r.u64(); r.ok && n > 0; --n)
    p.maybe_split.insert(r.u64());
  if (!r.ok)
    return bad("ends early");
  if (!r.in.empty())
    return bad(std::to_string(r.in.size()) + " bytes after its end");
  for (auto& [name, n] : p.nodes) {
    if (!n.present)
      continue;
    n.reference = p.should_be_reference(name, n);
    if (n.reference != (n.slice == 0))
      return bad("record '" + name + "' is "
                 + (n.reference
                        ? "reference data in slice " + std::to_string(n.slice)
                        : std::string("in no slice")));
    if (n.slice >= p.next_id)
      return bad("record '" + name + "' is in slice " + std::to_string(n.slice)
                 + ", not below the next id " + std::to_string(p.next_id));
    if (!n.reference)
      p.slices[n.slice].insert(name);
  }
  return g;
}

} // namespace sluice::slices
