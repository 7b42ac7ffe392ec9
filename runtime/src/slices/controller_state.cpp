// The slice controller's state as bytes: magic, generation, the graph's
// own bytes, the records' data, and the console's summaries.
#include "controller_state.hpp"

#include <algorithm>
#include <vector>

#include "bytes.hpp"

namespace sluice::slices {

namespace {

constexpr std::string_view controller_magic = "sluice.slicectl/1";

void put_batch(std::string& out, const controller_state::batch_summary& b) {
  for (auto v : {b.at_ms, b.records, b.upserted, b.merged, b.split, b.removed,
                 b.references})
    bytes::put_u64(out, v);
}

controller_state::batch_summary read_batch(bytes::reader& r) {
  controller_state::batch_summary b;
  for (auto* v : {&b.at_ms, &b.records, &b.upserted, &b.merged, &b.split,
                  &b.removed, &b.references})
    *v = r.u64();
  return b;
}

} // namespace

std::string controller_state::serialize() const {
  std::string out(controller_magic);
  bytes::put_u64(out, generation);
  bytes::put_str(out, graph.serialize());
  std::vector<const std::pair<const std::string, std::string>*> sorted;
  sorted.reserve(data.size());
  for (auto& e : data)
    sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](auto* a, auto* b) { return a->first < b->first; });
  bytes::put_u64(out, sorted.size());
  for (auto* e : sorted) {
    bytes::put_str(out, e->first);
    bytes::put_str(out, e->second);
  }
  bytes::put_u64(out, batches);
  put_batch(out, last);
  put_batch(out, total);
  for (auto v : {reconciled.at_ms, reconciled.runs, reconciled.differences,
                 reconcile_due_ms})
    bytes::put_u64(out, v);
  return out;
}

std::optional<std::uint64_t>
controller_state::generation_of(std::string_view in) {
  if (in.substr(0, controller_magic.size()) != controller_magic)
    return std::nullopt;
  bytes::reader r{in.substr(controller_magic.size())};
  auto g = r.u64();
  return r.ok ? std::optional<std::uint64_t>(g) : std::nullopt;
}

result<controller_state> controller_state::parse(std::string_view in) {
  auto bad = [](const std::string& what) {
    return fail(errc::corrupt, "slice controller state: " + what);
  };
  if (in.substr(0, controller_magic.size()) != controller_magic)
    return bad("does not start with '" + std::string(controller_magic) + "'");
  bytes::reader r{in.substr(controller_magic.size())};
  controller_state st;
  st.generation = r.u64();
  auto graph_bytes = r.str();
  if (!r.ok)
    return bad("ends early");
  auto g = slice_graph::parse(graph_bytes);
  if (!g)
    return g.error().within("slice controller state");
  st.graph = std::move(*g);
  for (auto n = r.u64(); r.ok && n > 0; --n) {
    auto name = r.str();
    auto value = r.str();
    if (r.ok && !st.graph.contains(name))
      return bad("data of '" + name + "', which is not a record");
    st.data.emplace(std::move(name), std::move(value));
  }
  st.batches = r.u64();
  st.last = read_batch(r);
  st.total = read_batch(r);
  st.reconciled.at_ms = r.u64();
  st.reconciled.runs = r.u64();
  st.reconciled.differences = r.u64();
  st.reconcile_due_ms = r.u64();
  if (!r.ok)
    return bad("ends early");
  if (!r.in.empty())
    return bad(std::to_string(r.in.size()) + " bytes after its end");
  return st;
}

} // namespace sluice::slices
