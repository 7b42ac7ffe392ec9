// Private to the slice graph's files: a record as the graph holds it and
// the graph's state (slice_graph::impl), with the operations the public
// calls are made of: merges, leaves, reference changes and split searches,
// and what changed since the last take.
#pragma once

#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "sluice/slice_graph.hpp"

namespace sluice::slices {

/// Names in order (heterogeneous lookup).
using name_set = std::set<std::string, std::less<>>;

/// A record, or a name only edges point at.
struct node {
  bool present = false;         ///< has a record (else only a target)
  bool self_loop = false;       ///< its record named itself (ignored)
  bool reference = false;       ///< present and reference data
  std::vector<std::string> out; ///< targets, sorted, unique, not itself
  name_set in;                  ///< present records with an edge to it
  slice_id slice = 0;           ///< 0: in none
};

/// The graph's state and the steps its public calls are made of.
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

} // namespace sluice::slices
