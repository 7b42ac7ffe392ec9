// The slice controller behaviour (sluice/slice_controller.hpp): a tenant's
// batches of records applied to its slice graph, one event per changed
// slice and per changed reference record, and a periodic from-scratch
// check. The parsed state is kept between events while its generation
// matches the committed bytes'.
#include "sluice/slice_controller.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "controller_state.hpp"
#include "sluice/behaviour.hpp"

namespace sluice::slices {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t default_max_event_bytes = 900'000;
constexpr std::string_view reconcile_timer = "reconcile";

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// One batch, checked whole before anything is applied.
struct batch {
  struct record {
    std::string name;
    std::vector<std::string> edges; ///< sorted, unique (itself counted
                                    ///< by the graph as a self-loop)
    std::string data;               ///< JSON text
  };
  std::vector<record> upserts;
  std::vector<std::string> removes;
};

[[noreturn]] void refuse_batch(const std::string& what) {
  throw permanent_error("slice batch: " + what);
}

std::string text_of(const json& j, const std::string& where) {
  if (!j.is_string() || j.get_ref<const std::string&>().empty())
    refuse_batch(where + ": expected a non-empty string, got "
                 + (j.is_string() ? std::string("\"\"") : j.dump()));
  return j.get<std::string>();
}

batch read_batch(const std::string& payload) {
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded())
    refuse_batch("the payload is not JSON");
  if (!j.is_object())
    refuse_batch("expected a JSON object with \"upsert\" and/or \"remove\"");
  batch b;
  for (auto& [field, value] : j.items()) {
    if (field == "upsert") {
      if (!value.is_array())
        refuse_batch("upsert: expected a list of records");
      for (std::size_t i = 0; i < value.size(); ++i) {
        const auto& r = value[i];
        auto at = "upsert[" + std::to_string(i) + "]";
        if (!r.is_object())
          refuse_batch(at + ": expected an object with name, edges, data");
        batch::record rec;
        for (auto& [f, v] : r.items()) {
          if (f == "name") {
            rec.name = text_of(v, at + ".name");
          } else if (f == "edges") {
            if (!v.is_array())
              refuse_batch(at + ".edges: expected a list of names");
            for (std::size_t e = 0; e < v.size(); ++e)
              rec.edges.push_back(
                  text_of(v[e], at + ".edges[" + std::to_string(e) + "]"));
          } else if (f == "data") {
            rec.data = v.dump();
          } else {
            refuse_batch(at + ": unknown field '" + f
                         + "' (known: name, edges, data)");
          }
        }
        if (rec.name.empty())
          refuse_batch(at + ": no name");
        if (rec.data.empty())
          rec.data = "null";
        std::sort(rec.edges.begin(), rec.edges.end());
        rec.edges.erase(std::unique(rec.edges.begin(), rec.edges.end()),
                        rec.edges.end());
        b.upserts.push_back(std::move(rec));
      }
    } else if (field == "remove") {
      if (!value.is_array())
        refuse_batch("remove: expected a list of names");
      for (std::size_t i = 0; i < value.size(); ++i)
        b.removes.push_back(
            text_of(value[i], "remove[" + std::to_string(i) + "]"));
    } else {
      refuse_batch("unknown field '" + field + "' (known: upsert, remove)");
    }
  }
  return b;
}

bool same_rule(const reference_rule& a, const reference_rule& b) {
  return a.min_in_degree == b.min_in_degree && a.listed == b.listed;
}

std::string rule_text(const reference_rule& r) {
  std::string out = "min_in_degree " + std::to_string(r.min_in_degree);
  if (!r.listed.empty())
    out += ", " + std::to_string(r.listed.size()) + " listed";
  return out;
}

class controller final : public behaviour {
public:
  result<void> configure(const stage_settings& s) override {
    if (auto ok = s.only({"min_in_degree", "reference", "topic",
                          "reconcile_every", "max_event_bytes"});
        !ok)
      return ok;
    auto degree = s.integer("min_in_degree", 0, 0, 1'000'000);
    if (!degree)
      return degree.error();
    rule_.min_in_degree = static_cast<std::uint32_t>(*degree);
    for (auto& name : s.list("reference"))
      rule_.listed.insert(name);
    auto topic = s.text("topic", "slice_changed");
    if (!topic)
      return topic.error();
    topic_ = std::move(*topic);
    auto every = s.duration("reconcile_every", std::chrono::minutes(10));
    if (!every)
      return every.error();
    reconcile_every_ = *every;
    auto max = s.integer("max_event_bytes", default_max_event_bytes, 1024,
                         std::uint64_t{1} << 30);
    if (!max)
      return max.error();
    max_event_bytes_ = *max;
    return {};
  }

  void on_event(context& ctx, const event& ev) override {
    auto b = read_batch(ev.payload);
    auto& st = load(ctx);
    valid_ = false; // mutated from here on: stale unless committed
    // Records whose being reference data may change: the batch's records
    // and every target of their old and new edges.
    std::set<std::string> candidates;
    for (auto& r : b.upserts) {
      candidates.insert(r.name);
      candidates.insert(r.edges.begin(), r.edges.end());
      for (auto& t : st.graph.edges_of(r.name))
        candidates.insert(t);
    }
    for (auto& name : b.removes) {
      candidates.insert(name);
      for (auto& t : st.graph.edges_of(name))
        candidates.insert(t);
    }
    // A changed rule (the stage's settings) may move any record.
    bool new_rule = !same_rule(st.graph.rule(), rule_);
    if (new_rule)
      for (auto& [name, d] : st.data)
        candidates.insert(name);
    std::set<std::string> was_reference, data_changed;
    for (auto& c : candidates)
      if (st.graph.is_reference(c))
        was_reference.insert(c);
    if (new_rule) {
      ctx.log(log_level::info,
              "reference rule changed from " + rule_text(st.graph.rule())
                  + " to " + rule_text(rule_)
                  + ": records move between slices and reference data");
      st.graph.set_rule(rule_);
    }
    for (auto& r : b.upserts) {
      auto d = st.data.find(r.name);
      auto kept = r.edges; // as the graph keeps them: without itself
      if (std::erase(kept, r.name) > 0)
        ctx.log(log_level::info, "record '" + r.name
                                     + "' names itself among its edges: "
                                       "that self-loop is ignored");
      bool changed = d == st.data.end() || d->second != r.data
                     || st.graph.edges_of(r.name) != kept;
      if (changed)
        data_changed.insert(r.name);
      st.graph.upsert(r.name, r.edges, changed);
      st.data[r.name] = std::move(r.data);
    }
    for (auto& name : b.removes) {
      st.graph.remove(name);
      st.data.erase(name);
      data_changed.erase(name);
    }
    auto changes = st.graph.take_changes();
    controller_state::batch_summary sum;
    sum.at_ms = now_ms();
    sum.records = b.upserts.size() + b.removes.size();
    for (auto& c : changes) {
      emit_slice(ctx, st, c);
      ++sum.of(c.what);
    }
    for (auto& c : candidates) {
      bool now = st.graph.is_reference(c);
      bool was = was_reference.count(c) > 0;
      if (now && (!was || data_changed.count(c) > 0))
        emit_reference(ctx, st, c, true);
      else if (was && !now)
        emit_reference(ctx, st, c, false);
      else
        continue;
      ++sum.references;
    }
    st.last = sum;
    st.total += sum;
    ++st.batches;
    ctx.count("slices_batches");
    ctx.count("slices_records", sum.records);
    ctx.count("slices_changed", changes.size());
    ctx.count("slices_reference_changed", sum.references);
    arm_timer(ctx, st);
    save(ctx, st);
  }

  void on_timer(context& ctx, const event& ev) override {
    if (ev.timer != reconcile_timer)
      throw permanent_error("slice controller: unknown timer '" + ev.timer
                            + "'");
    auto& st = load(ctx);
    valid_ = false;
    auto fresh = st.graph.recompute();
    auto kept = st.graph.partition();
    std::vector<std::vector<std::string>> only_fresh, only_kept;
    std::set_difference(fresh.begin(), fresh.end(), kept.begin(), kept.end(),
                        std::back_inserter(only_fresh));
    std::set_difference(kept.begin(), kept.end(), fresh.begin(), fresh.end(),
                        std::back_inserter(only_kept));
    auto differences = only_fresh.size() + only_kept.size();
    st.reconciled.at_ms = now_ms();
    ++st.reconciled.runs;
    st.reconciled.differences = differences;
    ctx.count("slices_reconciles");
    ctx.count("slices_reconcile_differences", differences);
    if (differences == 0) {
      ctx.log(log_level::info, "reconcile: " + std::to_string(kept.size())
                                   + " slices equal a from-scratch recompute");
    } else {
      auto example =
          !only_kept.empty() ? only_kept.front() : only_fresh.front();
      ctx.log(log_level::error,
              "reconcile: the incremental slices differ from a from-scratch "
              "recompute: "
                  + std::to_string(only_kept.size()) + " slices kept ("
                  + std::to_string(kept.size()) + " in all) and "
                  + std::to_string(only_fresh.size())
                  + " recomputed are not in the other; e.g. the slice of '"
                  + example.front() + "' (" + std::to_string(example.size())
                  + " members)");
    }
    st.reconcile_due_ms = 0;
    arm_timer(ctx, st);
    save(ctx, st);
  }

  std::string state_to_json(const std::string& bytes) const override {
    auto st = controller_state::parse(bytes);
    if (!st)
      return json{{"error", st.error().message}}.dump();
    auto s = st->graph.stats();
    std::vector<std::pair<std::size_t, slice_id>> sizes;
    for (auto& [id, members] : st->graph.slices())
      sizes.emplace_back(members.size(), id);
    std::sort(sizes.begin(), sizes.end(), [](auto& a, auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    json largest = json::array();
    for (std::size_t i = 0; i < sizes.size() && i < 5; ++i)
      largest.push_back(
          {{"slice", sizes[i].second}, {"members", sizes[i].first}});
    auto counts = [](const controller_state::batch_summary& b) {
      return json{{"at_ms", b.at_ms},          {"records", b.records},
                  {"upserted", b.upserted},    {"merged", b.merged},
                  {"split", b.split},          {"removed", b.removed},
                  {"references", b.references}};
    };
    return json{{"slices", s.slices},
                {"largest", s.largest},
                {"largest_slices", largest},
                {"records", s.records},
                {"reference_records", s.reference},
                {"edges", s.edges},
                {"dangling_edges", s.dangling},
                {"self_loops", s.self_loops},
                {"batches", st->batches},
                {"last_change", counts(st->last)},
                {"changes", counts(st->total)},
                {"reconcile",
                 {{"at_ms", st->reconciled.at_ms},
                  {"runs", st->reconciled.runs},
                  {"differences", st->reconciled.differences}}}}
        .dump();
  }

private:
  /// The key's state: the cached copy while it matches the committed
  /// bytes, else parsed (a fresh graph when the key has none).
  controller_state& load(context& ctx) {
    if (!ctx.has_state()) {
      cached_.emplace();
      cached_->graph = slice_graph(rule_);
    } else if (!valid_ || cached_key_ != ctx.key()
               || controller_state::generation_of(ctx.state())
                      != cached_->generation) {
      auto st = controller_state::parse(ctx.state());
      if (!st)
        throw permanent_error(st.error().message);
      cached_.emplace(std::move(*st));
    }
    cached_key_ = ctx.key();
    return *cached_;
  }

  void save(context& ctx, controller_state& st) {
    ++st.generation;
    ctx.set_state(st.serialize());
    valid_ = true;
  }

  /// Sets the in-memory reconcile timer for the pass that is due (planned
  /// now when none is): in memory, so that a run that has drained is not
  /// kept up by a periodic check.
  void arm_timer(context& ctx, controller_state& st) const {
    auto now = now_ms();
    if (st.reconcile_due_ms == 0)
      st.reconcile_due_ms =
          now + static_cast<std::uint64_t>(reconcile_every_.count());
    auto wait = st.reconcile_due_ms > now ? st.reconcile_due_ms - now : 0;
    ctx.set_timer(std::string(reconcile_timer), std::chrono::milliseconds(wait),
                  "", timer_kind::in_memory);
  }

  std::string records_json(const controller_state& st,
                           const std::vector<std::string>& names,
                           bool with_data) const {
    std::string out = "[";
    for (auto& n : names) {
      if (out.size() > 1)
        out += ',';
      out += "{\"name\":" + json_quote(n);
      if (with_data) {
        auto d = st.data.find(n);
        out += ",\"data\":" + (d == st.data.end() ? "null" : d->second);
      }
      out += '}';
    }
    return out + "]";
  }

  void emit_slice(context& ctx, const controller_state& st,
                  const slice_change& c) const {
    auto what = std::string(to_string(c.what));
    std::string from = "[";
    for (auto id : c.from)
      from += (from.size() > 1 ? "," : "") + std::to_string(id);
    from += "]";
    auto refs = c.what == slice_change::kind::removed
                    ? std::vector<std::string>{}
                    : st.graph.references_of(c.id);
    auto head = "{\"tenant\":" + json_quote(ctx.key())
                + ",\"slice\":" + std::to_string(c.id) + ",\"change\":\"" + what
                + "\",\"from\":" + from
                + ",\"members\":" + records_json(st, c.members, true);
    auto payload = head + ",\"references\":" + records_json(st, refs, true)
                   + ",\"references_data\":true}";
    if (payload.size() > max_event_bytes_)
      payload = head + ",\"references\":" + records_json(st, refs, false)
                + ",\"references_data\":false}";
    if (payload.size() > max_event_bytes_)
      throw permanent_error(
          "slice " + std::to_string(c.id) + " of tenant '" + ctx.key()
          + "': its slice_changed event would be "
          + std::to_string(payload.size()) + " bytes with "
          + std::to_string(c.members.size())
          + " members, over the stage's max_event_bytes "
          + std::to_string(max_event_bytes_)
          + " (raise it, and the topology's max_payload_bytes)");
    event out;
    out.key = ctx.key() + "/" + std::to_string(c.id);
    out.payload = std::move(payload);
    out.attributes["change"] = what;
    out.attributes["tenant"] = ctx.key();
    ctx.emit(topic_, std::move(out));
  }

  void emit_reference(context& ctx, const controller_state& st,
                      const std::string& name, bool present) const {
    auto what = present ? "reference" : "reference_removed";
    auto d = st.data.find(name);
    event out;
    out.key = ctx.key() + "/ref/" + name;
    out.payload = "{\"tenant\":" + json_quote(ctx.key()) + ",\"reference\":"
                  + json_quote(name) + ",\"change\":\"" + what + "\",\"data\":"
                  + (present && d != st.data.end() ? d->second : "null") + "}";
    out.attributes["change"] = what;
    out.attributes["tenant"] = ctx.key();
    ctx.emit(topic_, std::move(out));
  }

  reference_rule rule_;
  std::string topic_ = "slice_changed";
  std::chrono::milliseconds reconcile_every_{std::chrono::minutes(10)};
  std::uint64_t max_event_bytes_ = default_max_event_bytes;
  std::optional<controller_state> cached_;
  std::string cached_key_;
  bool valid_ = false;
};

} // namespace

result<void> add_slice_controller(registry& reg) {
  return reg.add(std::string(controller_name),
                 [] { return std::make_unique<controller>(); });
}

} // namespace sluice::slices
