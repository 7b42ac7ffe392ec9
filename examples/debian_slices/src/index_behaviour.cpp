// The `debian.index` behaviour (index_behaviour.hpp).
#include "index_behaviour.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace debian_slices {

namespace {

using json = nlohmann::json;

constexpr std::string_view index_magic = "sluice.debian-index/1\n";

/// "generation N problems P\n" after the magic; nullopt when malformed.
std::optional<std::pair<std::uint64_t, std::uint64_t>>
header_of(std::string_view bytes, std::size_t* body = nullptr) {
  if (bytes.substr(0, index_magic.size()) != index_magic)
    return std::nullopt;
  bytes.remove_prefix(index_magic.size());
  auto nl = bytes.find('\n');
  if (nl == std::string_view::npos)
    return std::nullopt;
  auto line = bytes.substr(0, nl);
  std::uint64_t g = 0, p = 0;
  constexpr std::string_view g_word = "generation ", p_word = " problems ";
  if (line.substr(0, g_word.size()) != g_word)
    return std::nullopt;
  line.remove_prefix(g_word.size());
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), g);
  std::string_view rest(
      end, static_cast<std::size_t>(line.data() + line.size() - end));
  if (ec != std::errc{} || rest.substr(0, p_word.size()) != p_word)
    return std::nullopt;
  rest.remove_prefix(p_word.size());
  auto [end2, ec2] = std::from_chars(rest.data(), rest.data() + rest.size(), p);
  if (ec2 != std::errc{} || end2 != rest.data() + rest.size())
    return std::nullopt;
  if (body != nullptr)
    *body = index_magic.size() + nl + 1;
  return std::pair{g, p};
}

/// The fields of a package its slice's job reads.
json record_data(const suite_graph& g, const package& p) {
  return {{"version", p.version},
          {"size", p.installed_size_kib},
          {"maintainer", p.maintainer},
          {"section", p.section},
          {"relations", g.resolved_relations(p.name)}};
}

} // namespace

std::string index_state(const suite_graph& g, std::uint64_t generation,
                        std::uint64_t problems) {
  std::string out(index_magic);
  out += "generation " + std::to_string(generation) + " problems "
         + std::to_string(problems) + "\n";
  for (const auto& [name, p] : g.packages())
    out += write_stanza(p);
  return out;
}

sluice::result<void>
index_behaviour::configure(const sluice::stage_settings& s) {
  if (auto ok = s.only({"recommends", "topic", "records_per_event"}); !ok)
    return ok;
  auto rec = s.boolean("recommends", false);
  if (!rec)
    return rec.error();
  recommends_ = *rec;
  auto topic = s.text("topic", "records");
  if (!topic)
    return topic.error();
  topic_ = *topic;
  auto per = s.integer("records_per_event", 1000, 1, 100'000);
  if (!per)
    return per.error();
  per_event_ = *per;
  return {};
}

index_behaviour::suite& index_behaviour::load(sluice::context& ctx) {
  if (!ctx.has_state()) {
    cached_.emplace(suite{suite_graph(recommends_), 0, 0});
  } else {
    std::size_t body = 0;
    auto head = header_of(ctx.state(), &body);
    if (!head)
      throw sluice::permanent_error(
          "the index state of '" + ctx.key() + "' does not start with '"
          + std::string(index_magic.substr(0, 20)) + "' and a generation line");
    if (!valid_ || cached_key_ != ctx.key()
        || cached_->generation != head->first) {
      auto idx =
          parse_packages(std::string_view(ctx.state()).substr(body), "state");
      if (!idx.problems.empty())
        throw sluice::permanent_error(
            "the index state of '" + ctx.key() + "' is damaged: line "
            + std::to_string(idx.problems.front().line) + ": "
            + idx.problems.front().what);
      cached_.emplace(
          suite{suite_graph(recommends_), head->first, head->second});
      cached_->graph.apply(idx.packages);
    }
  }
  cached_key_ = ctx.key();
  return *cached_;
}

void index_behaviour::on_event(sluice::context& ctx, const sluice::event& ev) {
  auto source = ev.attributes.count("source") ? ev.attributes.at("source")
                                              : std::string("event");
  std::size_t first_line = 1;
  if (auto l = ev.attributes.find("line"); l != ev.attributes.end())
    std::from_chars(l->second.data(), l->second.data() + l->second.size(),
                    first_line);
  auto idx =
      parse_packages(ev.payload, source, std::max<std::size_t>(first_line, 1));
  auto& st = load(ctx);
  valid_ = false;
  for (auto& pr : idx.problems)
    ctx.log(sluice::log_level::warn, pr.what);
  st.problems += idx.problems.size();
  ctx.count("index_problems", idx.problems.size());
  ctx.count("index_packages", idx.packages.size());
  auto up = st.graph.apply(idx.packages);
  json upserts = json::array();
  auto flush = [&](json remove) {
    if (upserts.empty() && remove.empty())
      return;
    sluice::event out;
    out.payload =
        json{{"upsert", std::move(upserts)}, {"remove", remove}}.dump();
    upserts = json::array();
    ctx.emit(topic_, std::move(out));
  };
  for (auto& r : up.upserts) {
    upserts.push_back(
        {{"name", r.name},
         {"edges", r.edges},
         {"data", record_data(st.graph, *st.graph.find(r.name))}});
    if (upserts.size() >= per_event_)
      flush(json::array());
  }
  flush(up.removed);
  ctx.count("index_records_sent", up.upserts.size());
  ++st.generation;
  ctx.set_state(index_state(st.graph, st.generation, st.problems));
  valid_ = true;
}

std::string index_behaviour::state_to_json(const std::string& state) const {
  std::size_t body = 0;
  auto head = header_of(state, &body);
  if (!head)
    return json{{"error", "not an index state"}}.dump();
  auto idx = parse_packages(std::string_view(state).substr(body), "state");
  suite_graph g(recommends_);
  g.apply(idx.packages);
  return json{{"packages", g.size()},
              {"problems", head->second},
              {"unresolved_names", g.unresolved()},
              {"generation", head->first}}
      .dump();
}

} // namespace debian_slices
