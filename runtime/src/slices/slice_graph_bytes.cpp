// A slice graph as bytes, for a key's state (slice_graph::serialize and
// parse): the rule, the next id, each present record with its slice and
// edges, and the pending split searches; parse checks what it can.
#include <algorithm>

#include "bytes.hpp"
#include "slice_graph_impl.hpp"

namespace sluice::slices {

namespace {

using bytes::put_str;
using bytes::put_u64;
using bytes::reader;

constexpr std::string_view magic = "sluice.slices/1";

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
