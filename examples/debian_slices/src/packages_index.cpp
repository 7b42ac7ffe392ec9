// Debian's Packages index (packages_index.hpp): the stanza parser, the
// relation parser and the suite's resolved dependency graph.
#include "debian_slices/packages_index.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace debian_slices {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty()
         && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// Debian policy 5.6.1: lower-case letters, digits, + - . (two or more
/// characters, starting with a letter or digit).
bool valid_name(std::string_view n) {
  if (n.size() < 2
      || !(std::islower(static_cast<unsigned char>(n[0]))
           || std::isdigit(static_cast<unsigned char>(n[0]))))
    return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c))
           || std::isdigit(static_cast<unsigned char>(c)) || c == '+'
           || c == '-' || c == '.';
  });
}

/// Skips a bracketed part ("(>= 1)", "[amd64]", "<!nocheck>") at the front.
bool skip_group(std::string_view& s, char open, char close) {
  if (s.empty() || s.front() != open)
    return true;
  auto end = s.find(close);
  if (end == std::string_view::npos)
    return false;
  s = trim(s.substr(end + 1));
  return true;
}

/// The name of one alternative ("libc6 (>= 2.34)", "python3:any").
bool alternative_name(std::string_view alt, std::string& name) {
  alt = trim(alt);
  auto end = alt.find_first_of(" \t(:[<");
  auto n = alt.substr(0, end);
  if (!valid_name(n))
    return false;
  name = std::string(n);
  auto rest = end == std::string_view::npos ? std::string_view{}
                                            : trim(alt.substr(end));
  if (!rest.empty() && rest.front() == ':') { // an architecture qualifier
    auto q = rest.find_first_of(" \t([<");
    rest =
        q == std::string_view::npos ? std::string_view{} : trim(rest.substr(q));
  }
  if (!skip_group(rest, '(', ')') || !skip_group(rest, '[', ']'))
    return false;
  while (!rest.empty() && rest.front() == '<')
    if (!skip_group(rest, '<', '>'))
      return false;
  return rest.empty();
}

void split(std::string_view s, char sep, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t start = 0;
  while (true) {
    auto at = s.find(sep, start);
    out.push_back(s.substr(start, at - start));
    if (at == std::string_view::npos)
      break;
    start = at + 1;
  }
}

/// The fields of one stanza, as read.
struct stanza {
  std::size_t line = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string broken; ///< why a line of it could not be read
  std::size_t broken_line = 0;
};

void finish(stanza& st, packages_index& out, std::string_view where) {
  if (st.fields.empty() && st.broken.empty())
    return;
  auto problem = [&](std::size_t line, const std::string& what) {
    out.problems.push_back(
        {line, std::string(where) + ":" + std::to_string(line) + ": " + what});
  };
  if (!st.broken.empty()) {
    problem(st.broken_line, st.broken + " (the stanza is skipped)");
    return;
  }
  package p;
  p.line = st.line;
  for (auto& fv : st.fields) {
    const auto& field = fv.first;
    const auto& value = fv.second;
    auto relation = [&](std::vector<std::vector<std::string>>& into) {
      if (!parse_relation(value, into)) {
        problem(st.line, "package '" + p.name + "': field " + field
                             + " does not parse: '" + value
                             + "' (the stanza is skipped)");
        return false;
      }
      return true;
    };
    if (field == "Package")
      p.name = value;
    else if (field == "Version")
      p.version = value;
    else if (field == "Architecture")
      p.architecture = value;
    else if (field == "Maintainer")
      p.maintainer = value;
    else if (field == "Section")
      p.section = value;
    else if (field == "Source")
      p.source = value.substr(0, value.find(' '));
    else if (field == "Installed-Size") {
      auto [end, ec] = std::from_chars(
          value.data(), value.data() + value.size(), p.installed_size_kib);
      if (ec != std::errc{} || end != value.data() + value.size()) {
        problem(st.line, "package '" + p.name + "': Installed-Size '" + value
                             + "' is not a number (the stanza is skipped)");
        return;
      }
    } else if (field == "Depends") {
      if (!relation(p.depends))
        return;
    } else if (field == "Pre-Depends") {
      if (!relation(p.pre_depends))
        return;
    } else if (field == "Recommends") {
      if (!relation(p.recommends))
        return;
    } else if (field == "Provides") {
      std::vector<std::vector<std::string>> provided;
      if (!relation(provided))
        return;
      for (auto& alts : provided)
        for (auto& n : alts)
          p.provides.push_back(n);
    }
  }
  if (p.name.empty()) {
    problem(st.line, "a stanza without a Package field (skipped)");
    return;
  }
  if (!valid_name(p.name)) {
    problem(st.line, "package name '" + p.name
                         + "' is not a Debian package name (skipped)");
    return;
  }
  out.packages.push_back(std::move(p));
}

} // namespace

bool parse_relation(std::string_view field,
                    std::vector<std::vector<std::string>>& out) {
  out.clear();
  field = trim(field);
  if (field.empty())
    return true;
  std::vector<std::string_view> parts, alts;
  split(field, ',', parts);
  for (auto part : parts) {
    split(part, '|', alts);
    std::vector<std::string> names;
    for (auto alt : alts) {
      std::string name;
      if (!alternative_name(alt, name))
        return false;
      names.push_back(std::move(name));
    }
    out.push_back(std::move(names));
  }
  return true;
}

std::string write_stanza(const package& p) {
  std::string out = "Package: " + p.name + "\n";
  auto field = [&](std::string_view name, const std::string& value) {
    if (!value.empty())
      out.append(name).append(": ").append(value).append("\n");
  };
  auto relation = [](const std::vector<std::vector<std::string>>& rel) {
    std::string text;
    for (auto& alts : rel) {
      if (!text.empty())
        text += ", ";
      for (std::size_t i = 0; i < alts.size(); ++i)
        text += (i > 0 ? " | " : "") + alts[i];
    }
    return text;
  };
  field("Version", p.version);
  field("Architecture", p.architecture);
  field("Maintainer", p.maintainer);
  field("Section", p.section);
  field("Source", p.source);
  if (p.installed_size_kib > 0)
    field("Installed-Size", std::to_string(p.installed_size_kib));
  field("Pre-Depends", relation(p.pre_depends));
  field("Depends", relation(p.depends));
  field("Recommends", relation(p.recommends));
  std::string provides;
  for (auto& v : p.provides)
    provides += (provides.empty() ? "" : ", ") + v;
  field("Provides", provides);
  return out + "\n";
}

packages_index parse_packages(std::string_view text, std::string_view where,
                              std::size_t first_line) {
  packages_index out;
  stanza st;
  std::size_t line_no = first_line - 1;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text =
        nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (trim(line).empty()) {
      finish(st, out, where);
      st = stanza{};
      continue;
    }
    if (st.fields.empty() && st.broken.empty())
      st.line = line_no;
    if (line.front() == ' ' || line.front() == '\t') {
      if (st.fields.empty()) {
        if (st.broken.empty()) {
          st.broken = "a continuation line with no field before it";
          st.broken_line = line_no;
        }
        continue;
      }
      auto& value = st.fields.back().second;
      if (st.fields.back().first != "Description") // kept short
        value += " " + std::string(trim(line));
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      if (st.broken.empty()) {
        st.broken = "'" + std::string(line.substr(0, 60))
                    + "' is neither 'Field: value' nor a continuation";
        st.broken_line = line_no;
      }
      continue;
    }
    st.fields.emplace_back(std::string(trim(line.substr(0, colon))),
                           std::string(trim(line.substr(colon + 1))));
  }
  finish(st, out, where);
  return out;
}

std::set<std::string> suite_graph::wanted(const package& p) const {
  std::set<std::string> out;
  auto add = [&](const std::vector<std::vector<std::string>>& rel) {
    for (auto& alts : rel)
      out.insert(alts.begin(), alts.end());
  };
  add(p.depends);
  add(p.pre_depends);
  if (recommends_)
    add(p.recommends);
  return out;
}

std::vector<std::string> suite_graph::resolve(const package& p) const {
  std::set<std::string> out;
  for (auto& name : wanted(p)) {
    bool known = false;
    if (packages_.count(name)) {
      out.insert(name);
      known = true;
    }
    if (auto pr = providers_.find(name); pr != providers_.end())
      for (auto& by : pr->second) {
        out.insert(by);
        known = true;
      }
    if (!known)
      out.insert(name); // unknown: an edge that waits (dangling)
  }
  // Providing a name it depends on is no edge to itself; naming itself
  // is, and the slice graph counts it as a self-loop (ignored).
  if (!wanted(p).count(p.name))
    out.erase(p.name);
  return {out.begin(), out.end()};
}

graph_update suite_graph::apply(const std::vector<package>& batch) {
  graph_update up;
  std::set<std::string> touched_names; // whose resolution may change
  std::map<std::string, bool> changed; // batch packages: content changed?
  for (auto& p : batch) {
    bool content = true;
    if (auto old = packages_.find(p.name); old != packages_.end()) {
      content = old->second.version != p.version
                || old->second.installed_size_kib != p.installed_size_kib
                || old->second.maintainer != p.maintainer;
      for (auto& w : wanted(old->second))
        dependents_[w].erase(p.name);
      for (auto& v : old->second.provides) {
        providers_[v].erase(p.name);
        touched_names.insert(v);
      }
      old->second = p;
    } else {
      packages_.emplace(p.name, p);
      touched_names.insert(p.name);
    }
    for (auto& w : wanted(p))
      dependents_[w].insert(p.name);
    for (auto& v : p.provides) {
      providers_[v].insert(p.name);
      touched_names.insert(v);
    }
    changed[p.name] = changed.count(p.name) ? true : content;
  }
  for (auto& [name, content] : changed) {
    auto edges = resolve(packages_.at(name));
    edges_[name] = edges;
    up.upserts.push_back({name, std::move(edges), content});
  }
  reresolve(touched_names, changed, up);
  return up;
}

void suite_graph::reresolve(const std::set<std::string>& names,
                            const std::map<std::string, bool>& done,
                            graph_update& up) {
  for (auto& n : names)
    if (auto d = dependents_.find(n); d != dependents_.end())
      for (auto& dep : d->second) {
        if (done.count(dep))
          continue;
        auto edges = resolve(packages_.at(dep));
        auto& known = edges_[dep];
        if (edges != known) {
          known = edges;
          up.upserts.push_back({dep, std::move(edges), false});
        }
      }
}

graph_update suite_graph::remove(const std::vector<std::string>& names) {
  graph_update up;
  std::set<std::string> touched_names;
  for (auto& name : names) {
    auto it = packages_.find(name);
    if (it == packages_.end())
      continue;
    for (auto& w : wanted(it->second))
      dependents_[w].erase(name);
    for (auto& v : it->second.provides) {
      providers_[v].erase(name);
      touched_names.insert(v);
    }
    touched_names.insert(name);
    packages_.erase(it);
    edges_.erase(name);
    up.removed.push_back(name);
  }
  reresolve(touched_names, {}, up);
  return up;
}

std::vector<std::vector<std::string>>
suite_graph::resolved_relations(std::string_view name) const {
  std::vector<std::vector<std::string>> out;
  const package* p = find(name);
  if (p == nullptr)
    return out;
  for (const auto* rel : {&p->pre_depends, &p->depends})
    for (auto& alts : *rel) {
      std::set<std::string> names;
      for (auto& alt : alts) {
        bool known = packages_.count(alt) > 0;
        if (known)
          names.insert(alt);
        if (auto pr = providers_.find(alt); pr != providers_.end())
          for (auto& by : pr->second) {
            names.insert(by);
            known = true;
          }
        if (!known)
          names.insert(alt);
      }
      out.emplace_back(names.begin(), names.end());
    }
  return out;
}

const package* suite_graph::find(std::string_view name) const {
  auto it = packages_.find(name);
  return it == packages_.end() ? nullptr : &it->second;
}

std::vector<std::string> suite_graph::edges_of(std::string_view name) const {
  auto it = edges_.find(name);
  return it == edges_.end() ? std::vector<std::string>{} : it->second;
}

std::size_t suite_graph::unresolved() const {
  std::size_t n = 0;
  for (auto& [name, deps] : dependents_)
    if (!deps.empty() && !packages_.count(name)) {
      auto pr = providers_.find(name);
      if (pr == providers_.end() || pr->second.empty())
        ++n;
    }
  return n;
}

} // namespace debian_slices
