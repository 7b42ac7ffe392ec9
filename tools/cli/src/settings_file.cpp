// `--settings FILE` (see the header).
#include "settings_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

namespace sluice::cli {

namespace {

/// The option names `cmd` takes in a settings file: its long names, and
/// which of them are flags (no value).
struct known_options {
  std::set<std::string> names;
  std::set<std::string> flags;
};

known_options options_of(const CLI::App& cmd) {
  known_options out;
  for (const auto* o : cmd.get_options()) {
    for (auto& n : o->get_lnames()) {
      if (n == "settings" || n == "help" || o->get_group().empty())
        continue; // not a setting, or hidden (refused on purpose)
      out.names.insert(n);
      if (o->get_expected_max() == 0)
        out.flags.insert(n);
    }
  }
  return out;
}

/// Edit distance, for "did you mean".
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// True when `given` sets the option `name` ("--name" or "--name=...").
bool given_on_command_line(const std::vector<std::string>& given,
                           const std::string& name) {
  auto flag = "--" + name;
  return std::any_of(given.begin(), given.end(), [&](const std::string& a) {
    return a == flag || a.rfind(flag + "=", 0) == 0;
  });
}

} // namespace

result<std::vector<std::string>>
settings_as_arguments(const CLI::App& cmd, const std::string& file,
                      const std::vector<std::string>& given) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return fail(errc::not_found, "--settings " + file + ": cannot read it");
  } catch (const YAML::Exception& e) {
    return fail(errc::parse, file + ":" + std::to_string(e.mark.line + 1)
                                 + ": not YAML: " + e.msg);
  }
  if (root.IsNull())
    return std::vector<std::string>{}; // an empty file sets nothing
  auto at = [&](const YAML::Node& n) {
    return file + ":" + std::to_string(n.Mark().line + 1) + ": ";
  };
  if (!root.IsMap())
    return fail(errc::parse, at(root)
                                 + "settings are a mapping of option names "
                                   "to values (name: a, listen: ...)");
  auto known = options_of(cmd);
  std::vector<std::string> out;
  for (auto kv : root) {
    auto raw = kv.first.Scalar();
    auto name = raw;
    std::replace(name.begin(), name.end(), '_', '-');
    if (name.rfind("--", 0) == 0)
      name = name.substr(2);
    if (!known.names.count(name)) {
      std::string near;
      std::size_t best = 4;
      for (auto& k : known.names)
        if (auto d = distance(name, k); d < best) {
          best = d;
          near = k;
        }
      return fail(errc::invalid_argument,
                  at(kv.first) + "unknown setting '" + raw + "'"
                      + (near.empty() ? "" : " (did you mean " + near + "?)")
                      + "; settings are `sluice " + cmd.get_name()
                      + "` options without the dashes");
    }
    const auto& v = kv.second;
    if (v.IsMap())
      return fail(errc::invalid_argument,
                  at(v) + "'" + raw
                      + "' takes a value or a list, not a "
                        "mapping");
    if (given_on_command_line(given, name))
      continue; // the command line wins
    std::vector<std::string> values;
    if (v.IsSequence()) {
      for (auto item : v) {
        if (!item.IsScalar())
          return fail(errc::invalid_argument,
                      at(item) + "'" + raw + "' takes a list of values");
        values.push_back(item.Scalar());
      }
    } else if (v.IsScalar()) {
      values.push_back(v.Scalar());
    } else {
      return fail(errc::invalid_argument, at(v) + "'" + raw + "' has no value");
    }
    if (known.flags.count(name)) {
      if (values.size() != 1 || (values[0] != "true" && values[0] != "false"))
        return fail(errc::invalid_argument,
                    at(v) + "'" + raw + "' is a flag: true or false");
      if (values[0] == "true")
        out.push_back("--" + name);
      continue;
    }
    for (auto& value : values) {
      out.push_back("--" + name);
      out.push_back(value);
    }
  }
  return out;
}

result<std::vector<std::string>>
with_settings_file(const CLI::App& app, std::vector<std::string> args) {
  // The subcommand is the first argument that names one (global options
  // before it take one value each).
  auto sub = std::find(args.begin(), args.end(), "node");
  if (sub == args.end())
    return args;
  std::vector<std::string> given(sub + 1, args.end());
  std::string file;
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (given[i] == "--settings" && i + 1 < given.size())
      file = given[i + 1];
    else if (given[i].rfind("--settings=", 0) == 0)
      file = given[i].substr(11);
  }
  if (file.empty())
    return args;
  const auto* cmd = app.get_subcommand("node");
  auto extra = settings_as_arguments(*cmd, file, given);
  if (!extra)
    return extra.error();
  args.insert(args.end(), extra->begin(), extra->end());
  return args;
}

} // namespace sluice::cli
