// `sources:` in a topology and `--source URL` on the command line: what a
// node reads by itself (PostgreSQL change capture). Pure functions; errors
// name the file, line and field, or the URL's parameter.
#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <set>

#include "topology_loader.hpp"
#include "topology_values.hpp"
#include "topology_yaml.hpp"

namespace sluice {

namespace {

bool identifier(std::string_view s) {
  if (s.empty() || s.size() > 63)
    return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::islower(u) || std::isdigit(u) || c == '_' || c == '$';
  });
}

/// "items" -> "public.items"; "sales.orders" kept; anything PostgreSQL
/// would need quotes for is refused with why.
std::optional<std::string> table_name(const std::string& text,
                                      std::string& why) {
  auto dot = text.find('.');
  std::string schema =
      dot == std::string::npos ? "public" : text.substr(0, dot);
  std::string table = dot == std::string::npos ? text : text.substr(dot + 1);
  if (!identifier(schema) || !identifier(table)) {
    why = "table '" + text
          + "' is not a plain lower-case name (schema.table, letters, digits "
            "and '_'; quoted identifiers are not supported)";
    return std::nullopt;
  }
  return schema + "." + table;
}

/// Why `slot` cannot name a replication slot, or nullopt.
std::optional<std::string> bad_slot_name(const std::string& slot) {
  bool plain = !slot.empty() && slot.size() <= 63
               && std::all_of(slot.begin(), slot.end(), [](char c) {
                    auto u = static_cast<unsigned char>(c);
                    return std::islower(u) || std::isdigit(u) || c == '_';
                  });
  if (plain)
    return std::nullopt;
  return "'" + slot
         + "' is not a replication slot name (lower-case letters, digits "
           "and '_', at most 63)";
}

/// Why `snapshot` without `create_slot` cannot work.
constexpr const char* snapshot_needs_new_slot =
    "a snapshot is read at the slot's creation: set create_slot: true too "
    "(an existing slot has no snapshot to read)";

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()
        && std::isxdigit(static_cast<unsigned char>(s[i + 1]))
        && std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(
          std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

/// The checks a source passes however it was given.
result<void> check_source(const source_spec& s, const std::string& where) {
  if (auto why = bad_slot_name(s.slot))
    return fail(errc::config, where + "slot: " + *why);
  if (s.tables.empty())
    return fail(errc::config, where + "tables: no table given");
  if (s.snapshot && !s.create_slot)
    return fail(errc::config,
                where + "snapshot: " + std::string(snapshot_needs_new_slot));
  return {};
}

} // namespace

result<source_spec> parse_source_url(const std::string& url) {
  const std::string where = "--source: ";
  if (url.rfind("postgresql://", 0) != 0 && url.rfind("postgres://", 0) != 0)
    return fail(errc::invalid_argument,
                where + "'" + url
                    + "' is not a postgresql:// URL (the only kind of "
                      "source; e.g. postgresql://user@127.0.0.1:5432/db"
                      "?slot=sluice&tables=public.items,public.owners)");
  source_spec s;
  auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string kept; // libpq's own parameters, passed through
  if (q != std::string::npos) {
    std::string_view rest(url);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto item = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{}
                                           : rest.substr(amp + 1);
      auto eq = item.find('=');
      std::string name(item.substr(0, eq));
      std::string value = eq == std::string_view::npos
                              ? ""
                              : percent_decoded(item.substr(eq + 1));
      auto flag = [&](bool& out) -> result<void> {
        if (value == "true" || value == "1")
          out = true;
        else if (value == "false" || value == "0")
          out = false;
        else
          return fail(errc::invalid_argument, where + name
                                                  + ": expected true or "
                                                    "false, got '"
                                                  + value + "'");
        return {};
      };
      if (name == "slot") {
        s.slot = value;
      } else if (name == "name") {
        s.name = value;
      } else if (name == "topic") {
        s.topic = value;
      } else if (name == "tables") {
        std::size_t start = 0;
        while (start <= value.size()) {
          auto comma = value.find(',', start);
          auto t = value.substr(start, comma - start);
          std::string why;
          auto full = table_name(t, why);
          if (!full)
            return fail(errc::invalid_argument, where + "tables: " + why);
          s.tables.push_back(*full);
          if (comma == std::string::npos)
            break;
          start = comma + 1;
        }
      } else if (name == "create_slot") {
        if (auto r = flag(s.create_slot); !r)
          return r.error();
      } else if (name == "snapshot") {
        if (auto r = flag(s.snapshot); !r)
          return r.error();
      } else if (name == "poll") {
        auto d = topology_yaml::parse_duration(value);
        if (!d || d->count() <= 0)
          return fail(errc::invalid_argument,
                      where + "poll: expected a duration such as 100ms, got '"
                          + value + "'");
        s.poll = *d;
      } else if (name == "batch") {
        char* end = nullptr;
        auto n = std::strtoull(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || n < 1 || n > 100000)
          return fail(errc::invalid_argument,
                      where
                          + "batch: expected an integer in 1..100000, "
                            "got '"
                          + value + "'");
        s.batch = n;
      } else if (name.rfind("attr.", 0) == 0 && name.size() > 5) {
        s.attributes[name.substr(5)] = value;
      } else {
        kept += (kept.empty() ? "?" : "&") + std::string(item);
      }
    }
  }
  s.connection = base + kept;
  if (s.slot.empty())
    return fail(errc::invalid_argument,
                where + "no slot=NAME in '" + url
                    + "' (the logical replication slot to read)");
  if (s.name.empty())
    s.name = s.slot;
  if (auto r = check_source(s, where); !r)
    return fail(errc::invalid_argument, r.error().message);
  return s;
}

namespace topology_yaml {

result<std::vector<source_spec>> read_sources(const field& f,
                                              std::vector<field>& topic_refs) {
  auto items = f.items();
  if (!items)
    return items.error();
  std::vector<source_spec> out;
  std::set<std::string> names;
  for (const field& item : *items) {
    auto m =
        item.fields({"name", "postgres", "slot", "tables", "topic",
                     "attributes", "create_slot", "snapshot", "poll", "batch"});
    if (!m)
      return m.error();
    source_spec s;
    s.source_file = item.file();
    s.source_line = item.line();
    auto conn = m->require("postgres");
    if (!conn)
      return conn.error();
    auto text = conn->text();
    if (!text)
      return text.error();
    s.connection = std::move(*text);
    auto slot = m->require("slot");
    if (!slot)
      return slot.error();
    auto slot_name = slot->text();
    if (!slot_name)
      return slot_name.error();
    s.slot = *slot_name;
    if (auto why = bad_slot_name(s.slot))
      return slot->fail(*why);
    s.name = s.slot;
    if (auto n = m->get("name")) {
      auto name = n->text();
      if (!name)
        return name.error();
      s.name = std::move(*name);
    }
    if (!names.insert(s.name).second)
      return item.fail("a second source named '" + s.name
                       + "' (give each a distinct name)");
    auto tables = m->require("tables");
    if (!tables)
      return tables.error();
    auto list = tables->items_or_scalar();
    if (!list)
      return list.error();
    for (const field& t : *list) {
      auto name = t.text();
      if (!name)
        return name.error();
      std::string why;
      auto full = table_name(*name, why);
      if (!full)
        return t.fail(why);
      if (std::find(s.tables.begin(), s.tables.end(), *full) != s.tables.end())
        return t.fail("table '" + *full + "' is listed twice");
      s.tables.push_back(*full);
    }
    if (s.tables.empty())
      return tables->fail("no table given");
    if (auto t = m->get("topic")) {
      auto topic = t->text();
      if (!topic)
        return topic.error();
      s.topic = *topic;
      topic_refs.push_back(*t);
    }
    if (auto a = m->get("attributes")) {
      auto entries = a->entries();
      if (!entries)
        return entries.error();
      for (auto& [k, v] : *entries) {
        auto name = k.text();
        auto value = v.text();
        if (!name)
          return name.error();
        if (!value)
          return value.error();
        if (*name == "table" || *name == "operation" || *name == "source")
          return k.fail("'" + *name + "' is set by the source itself");
        s.attributes[*name] = *value;
      }
    }
    for (auto [key, out] : {std::pair{"create_slot", &s.create_slot},
                            std::pair{"snapshot", &s.snapshot}})
      if (auto v = m->get(key)) {
        auto b = v->boolean();
        if (!b)
          return b.error();
        *out = *b;
      }
    if (auto v = m->get("poll")) {
      auto d = parse_duration_field(*v);
      if (!d)
        return d.error();
      if (d->count() <= 0)
        return v->fail("poll must be at least 1ms");
      s.poll = *d;
    }
    if (auto v = m->get("batch")) {
      auto n = v->integer(1, 100000);
      if (!n)
        return n.error();
      s.batch = *n;
    }
    if (s.snapshot && !s.create_slot)
      return m->get("snapshot")->fail(snapshot_needs_new_slot);
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace topology_yaml

result<void> add_source(topology& topo, source_spec s) {
  if (s.topic.empty())
    s.topic = topo.feed.topic;
  if (std::find(topo.topics.begin(), topo.topics.end(), s.topic)
      == topo.topics.end())
    return fail(errc::invalid_argument,
                "--source: topic '" + s.topic + "' is not declared in "
                    + "the topology (topics: "
                    + topology_yaml::join(topo.topics, ", ") + ")");
  for (auto& other : topo.sources)
    if (other.name == s.name)
      return fail(errc::invalid_argument,
                  "--source: the topology already has a source named '" + s.name
                      + "' (give name=OTHER)");
  topo.sources.push_back(std::move(s));
  return {};
}

} // namespace sluice
