// Debian relationship field parsing for package.parse. Tolerant: a malformed
// term gives a shorter name or none, never an exception.
#include "dependencies.hpp"

#include "text.hpp"

namespace sluice::examples::package_trust {

std::string dependency_name(std::string_view term) {
  std::string out;
  char closer = 0; // set while inside (), [] or <>
  for (char c : term) {
    if (closer != 0) {
      if (c == closer)
        closer = 0;
    } else if (c == '(') {
      closer = ')';
    } else if (c == '[') {
      closer = ']';
    } else if (c == '<') {
      closer = '>';
    } else {
      out.push_back(c);
    }
  }
  std::string_view name = trim(out);
  name = name.substr(0, name.find(':'));                    // python3:any
  name = trim(name.substr(0, name.find_first_of(" \t\n"))); // stray text
  return std::string(name);
}

std::vector<Dependency> parse_dependencies(std::string_view field,
                                           bool pre_depends) {
  std::vector<Dependency> out;
  for (std::string_view entry : split(field, ',')) {
    Dependency dep;
    dep.set_pre_depends(pre_depends);
    for (std::string_view alt : split(entry, '|')) {
      std::string name = dependency_name(alt);
      if (!name.empty())
        dep.add_alternatives(std::move(name));
    }
    if (dep.alternatives_size() > 0)
      out.push_back(std::move(dep));
  }
  return out;
}

} // namespace sluice::examples::package_trust
