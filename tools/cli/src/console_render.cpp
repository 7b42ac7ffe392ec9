// The console's human output: each command's JSON answer as an aligned
// table (or a short list) that fits 80 columns.
#include "console_render.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "sluice/utc_time.hpp"
#include "table.hpp"

namespace sluice::cli {

namespace {

using json = nlohmann::json;

std::string str(const json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null())
    return "";
  auto& v = j[field];
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_boolean())
    return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string num(const json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_number())
    return "";
  return human(j[field].get<double>());
}

/// A latency quantile (`p50_ms`, `p99_ms`) of a histogram answer; "-" when
/// nothing was measured.
std::string quantile_ms(const json& j, const char* field) {
  if (!j.is_object() || j.value("count", 0) == 0)
    return "-";
  char buf[32];
  double v = j.value(field, 0.0);
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f" : "%.0f", v);
  return buf;
}

/// "2026-12-02T01:35:12.123Z" -> "01:35:12.123" (the date is mostly today).
std::string clock_of(const std::string& iso) {
  auto t = iso.find('T');
  return t == std::string::npos ? iso : iso.substr(t + 1, 12);
}

/// A cluster member's view: every member, then this node's own work.
void members(const json& a, std::ostream& out) {
  table t;
  t.column("NODE")
      .column("ADDRESS")
      .column("STATUS")
      .column("INCARNATION", true)
      .column("SHARDS", true)
      .column("LINK");
  for (auto& n : a["nodes"])
    t.row({str(n, "name") + (n.value("self", false) ? " *" : ""),
           str(n, "address"), str(n, "status"), num(n, "incarnation"),
           num(n, "shards"),
           n.value("self", false)
               ? "-"
               : (n.value("connected", false) ? "connected" : "none")});
  t.print(out);
  out << "member table epoch " << num(a, "epoch");
  if (a.contains("local")) {
    auto& l = a["local"];
    out << "; here: " << num(l, "queued") << " queued, " << num(l, "outbox")
        << " in the outbox, "
        << (l.value("drained", false) ? "drained" : "working");
  }
  out << '\n';
  if (!a.value("joined", true))
    out << "not in a cluster yet: " << str(a, "waiting") << '\n';
}

void nodes(const json& a, std::ostream& out) {
  if (a.value("cluster", false))
    return members(a, out);
  table t;
  t.column("NODE")
      .column("STATUS")
      .column("UPTIME", true)
      .column("QUEUED", true)
      .column("TIMERS", true)
      .column("COMMITS", true)
      .column("CONSOLE");
  for (auto& n : a["nodes"])
    t.row({str(n, "name"), str(n, "status"), str(n, "uptime_s") + "s",
           num(n, "queued"), num(n, "timers_pending"), num(n, "commits"),
           str(n, "listen")});
  t.print(out);
  for (auto& n : a["nodes"])
    if (n.contains("failure"))
      out << str(n, "name") << ": " << str(n, "failure") << '\n';
}

void shards(const json& a, std::ostream& out) {
  if (a.contains("owners")) { // a cluster member's summary
    table t;
    t.column("OWNER").column("SHARDS", true);
    for (auto& [name, count] : a["owners"].items())
      t.row({name, std::to_string(count.get<std::int64_t>())});
    t.print(out);
    out << num(a, "count") << " shards; here: " << num(a, "owned_here")
        << " owned, " << num(a, "leaving") << " leaving, "
        << num(a, "to_hand_off") << " to hand off, " << num(a, "incoming")
        << " transfers coming in\n";
    return;
  }
  table t;
  t.column("SHARD").column("OWNER").column("EPOCH", true);
  for (auto& s : a["shards"])
    t.row({str(s, "shard"), str(s, "owner"), str(s, "epoch")});
  t.print(out);
  if (a.contains("note"))
    out << str(a, "note") << '\n';
}

void stages(const json& a, std::ostream& out) {
  table t;
  t.column("STAGE")
      .column("IN", true)
      .column("DONE", true)
      .column("SKIP", true)
      .column("RETRY", true)
      .column("DLQ", true)
      .column("Q-URG", true)
      .column("Q-NORM", true)
      .column("EV/S", true)
      .column("P50ms", true)
      .column("P99ms", true);
  std::string paused;
  for (auto& s : a["stages"]) {
    if (s.value("paused", false))
      paused += (paused.empty() ? "" : ", ") + str(s, "name");
    t.row({str(s, "name"), num(s, "in"), num(s, "done"), num(s, "skipped"),
           num(s, "retried"), num(s, "dead_lettered"), num(s, "queued_urgent"),
           num(s, "queued_normal"), num(s, "events_per_s"),
           quantile_ms(s["latency"]["normal"], "p50_ms"),
           quantile_ms(s["latency"]["normal"], "p99_ms")});
  }
  t.print(out);
  if (!paused.empty())
    out << "paused: " << paused << '\n';
  if (a.contains("unrouted"))
    for (auto& u : a["unrouted"])
      out << "taken by no stage: " << str(u, "records") << " record"
          << (u.value("records", 0) == 1 ? "" : "s") << " of "
          << str(u, "source") << ": " << str(u, "why") << '\n';
}

void subscribers(const json& a, std::ostream& out) {
  table t;
  t.column("ID", true)
      .column("STAGE")
      .column("CLIENT")
      .column("PHASE")
      .column("SENT", true)
      .column("OFFSET", true)
      .column("LAG", true)
      .column("LAG-S", true);
  for (auto& s : a["subscribers"]) {
    char lag[32];
    std::snprintf(lag, sizeof lag, "%.1f", s.value("lag_seconds", 0.0));
    t.row({num(s, "id"), str(s, "stage"), str(s, "client"), str(s, "phase"),
           num(s, "delivered"), num(s, "position"), num(s, "lag_changes"),
           lag});
  }
  t.print(out);
  for (auto& l : a["changelogs"]) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "changelog %s: %s changes over %.1f s (offsets %s..%s)",
                  str(l, "stage").c_str(), num(l, "changes").c_str(),
                  l.value("span_seconds", 0.0), num(l, "low").c_str(),
                  num(l, "head").c_str());
    out << line;
    if (l.contains("cold_start_seconds"))
      out << "; the last cold start took " << l["cold_start_seconds"].dump()
          << " s";
    out << '\n';
  }
}

void actors(const json& a, std::ostream& out) {
  table t;
  t.column("STAGE")
      .column("KEY")
      .column("URG", true)
      .column("NORM", true)
      .column("PARKED", true)
      .column("RESTARTS", true)
      .column("STATE");
  std::size_t shown = 0;
  for (auto& k : a["actors"]) {
    auto& mb = k["mailbox"];
    auto load =
        mb.value("urgent", 0) + mb.value("normal", 0) + mb.value("parked", 0);
    // Idle keys are many and alike: show those with work or a history.
    if (load == 0 && !k.value("retrying", false) && k.value("restarts", 0) == 0)
      continue;
    ++shown;
    std::string state = k.value("retrying", false) ? "retrying"
                        : k.value("actor", false)  ? "live"
                                                   : "idle";
    if (k.value("express", false))
      state += ",express";
    t.row({str(k, "stage"), str(k, "key"), num(mb, "urgent"), num(mb, "normal"),
           num(mb, "parked"), num(k, "restarts"), state});
  }
  if (shown > 0)
    t.print(out);
  out << num(a, "live_keys") << " live keys, " << shown
      << " with work in flight, a retry or restarts";
  if (a["actors"].size() < a.value("live_keys", 0u))
    out << " (of the " << a["actors"].size() << " busiest)";
  out << '\n';
}

/// Writes `text` wrapped at 78 columns, each line after `indent`; breaks
/// at a space where there is one.
void wrap(std::ostream& out, const std::string& text,
          const std::string& indent) {
  const std::size_t width = 78 - indent.size();
  std::size_t at = 0;
  while (at < text.size()) {
    auto len = std::min(width, text.size() - at);
    if (at + len < text.size())
      if (auto sp = text.rfind(' ', at + len);
          sp != std::string::npos && sp > at + width / 2)
        len = sp - at + 1;
    out << indent << text.substr(at, len) << '\n';
    at += len;
  }
}

/// "label         value", the value wrapped under itself when long.
void field(std::ostream& out, const char* label, const std::string& value) {
  if (value.empty())
    return;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%-14s", label);
  std::ostringstream wrapped;
  wrap(wrapped, value, std::string(14, ' '));
  auto text = wrapped.str();
  out << buf << text.substr(14);
}

void inspect(const json& a, std::ostream& out) {
  field(out, "key", str(a, "key") + "  (stage " + str(a, "stage") + ")");
  if (a.contains("version"))
    field(out, "version",
          str(a, "version") + "  (" + str(a, "events_processed")
              + " events processed, " + str(a, "events_failed") + " failed)");
  field(out, "last event", str(a, "last_event_id"));
  field(out, "updated", str(a, "updated"));
  field(out, "last error", str(a, "last_error"));
  if (a.contains("status")) {
    auto& s = a["status"];
    auto from = str(s, "from_stage");
    field(out, "status",
          str(s, "phase") + " in " + str(s, "stage") + " since "
              + clock_of(str(s, "since"))
              + (from.empty() ? "" : " (from " + from + ")"));
  }
  if (a.contains("mailbox")) {
    auto& mb = a["mailbox"];
    field(out, "mailbox",
          "urgent " + str(mb, "urgent") + ", normal " + str(mb, "normal")
              + ", parked " + str(mb, "parked")
              + (a.value("actor", false) ? "  (actor live)" : "  (no actor)"));
  }
  field(out, "restarts", str(a, "restarts"));
  if (a.contains("retry")) {
    auto& r = a["retry"];
    field(out, "retry",
          "due " + clock_of(str(r, "due")) + " after "
              + std::to_string(r["attempts"].size()) + " failed tries");
    for (auto& at : r["attempts"])
      out << "              " << str(at, "attempt") << ". "
          << clock_of(str(at, "at")) << " " << str(at, "error") << '\n';
  }
  for (auto& t : a["timers"])
    field(out, "timer", str(t, "name") + " due " + clock_of(str(t, "due")));
  if (!a["dead_letters"].empty()) {
    std::string ids;
    for (auto& d : a["dead_letters"])
      ids += (ids.empty() ? "" : " ") + d.get<std::string>();
    field(out, "dead letters", ids);
  }
  if (a.contains("state"))
    out << "state\n" << a["state"].dump(2) << '\n';
}

void trace(const json& a, std::ostream& out) {
  table t;
  t.column("STAGE")
      .column("AT")
      .column("EVENT")
      .column("DONE", true)
      .column("FAILED", true);
  for (auto& p : a["path"])
    t.row({str(p, "stage"), clock_of(str(p, "at")), str(p, "last_event_id"),
           num(p, "events_processed"), num(p, "events_failed")});
  t.print(out);
  if (a.contains("now")) {
    auto& n = a["now"];
    out << "now: " << str(n, "phase") << " in " << str(n, "stage") << " since "
        << clock_of(str(n, "since")) << '\n';
  }
  for (auto& d : a["dead_letters"])
    out << "dead letter " << str(d, "id") << " (" << str(d, "stage")
        << "): " << str(d, "error") << '\n';
}

void dlq(const std::vector<std::string>& args, const json& a,
         std::ostream& out) {
  auto sub = args.empty() ? "" : args[0];
  if (sub == "list") {
    table t;
    t.column("ID")
        .column("STAGE")
        .column("KEY")
        .column("TRIES", true)
        .column("LAST ERROR");
    for (auto& d : a["dead_letters"])
      t.row({str(d, "id"), str(d, "stage"), str(d, "key"), str(d, "attempts"),
             str(d, "last_error")});
    t.print(out);
    out << a["dead_letters"].size() << " dead letters\n";
  } else if (sub == "show") {
    field(out, "id", str(a, "id"));
    field(out, "stage", str(a, "stage"));
    field(out, "key", str(a, "key"));
    field(out, "event",
          str(a, "event_id") + "  (topic " + str(a, "topic") + ")");
    field(out, "source", str(a, "source"));
    field(out, "redrivable", str(a, "redrivable"));
    std::size_t n = 0;
    for (auto& e : a["errors"]) {
      auto at = e.value("at_ns", std::int64_t{0});
      auto label = "try " + std::to_string(++n);
      field(out, label.c_str(), clock_of(utc_time(at)));
      wrap(out, str(e, "error"), "  ");
    }
    out << "payload\n";
    wrap(out, str(a, "payload"), "  ");
  } else if (sub == "redrive") {
    out << "redriven " << str(a, "redriven")
        << " (back in their stage's queue)\n";
  } else if (sub == "drop") {
    out << "dropped " << str(a, "dropped") << '\n';
  } else {
    out << a.dump(2) << '\n';
  }
}

} // namespace

void render(const std::string& command, const std::vector<std::string>& args,
            const json& a, std::ostream& out) {
  if (command == "nodes")
    nodes(a, out);
  else if (command == "shards")
    shards(a, out);
  else if (command == "stages")
    stages(a, out);
  else if (command == "actors")
    actors(a, out);
  else if (command == "subscribers")
    subscribers(a, out);
  else if (command == "inspect")
    inspect(a, out);
  else if (command == "trace")
    trace(a, out);
  else if (command == "dlq")
    dlq(args, a, out);
  else if (command == "metrics")
    out << str(a, "text");
  else if (command == "pause" || command == "resume")
    out << "stage " << str(a, "stage")
        << (a.value("paused", false) ? " paused\n" : " resumed\n");
  else if (command == "drain")
    out << "node " << str(a, "node") << " draining\n";
  else if (command == "log-level")
    out << "log level " << str(a, "level") << '\n';
  else if (command == "topology") {
    for (auto& c : a["changes"])
      out << c.get<std::string>() << '\n';
    out << (a["changes"].empty()
                ? std::string("no change")
                : std::to_string(a["changes"].size()) + " changes"
                      + (a.value("applied", false) ? ", applied" : ""))
        << '\n';
  } else
    out << a.dump(2) << '\n';
}

} // namespace sluice::cli
