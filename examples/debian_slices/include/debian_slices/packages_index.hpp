// Debian's `Packages` index as records and dependency edges, for the
// debian_slices example: stanzas parsed (fields a slice job needs; errors
// named by line, the stanza skipped, the rest going on), relations reduced
// to package names (versions, architecture qualifiers and alternatives
// kept apart), and a suite's dependency graph kept up to date as later
// indexes (updates, security) replace packages: virtual packages resolve
// through Provides to every provider, and a change of who provides a name
// re-resolves the packages that depend on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace debian_slices {

/// One binary package of an index.
struct package {
  std::string name;
  std::string version;
  std::string architecture;
  std::string maintainer;
  std::string section;
  std::string source; ///< empty when the source package has its name
  std::uint64_t installed_size_kib = 0;
  /// Each relation a list of alternatives ("a | b"), names only.
  std::vector<std::vector<std::string>> depends, pre_depends, recommends;
  /// Virtual names it provides (versions stripped).
  std::vector<std::string> provides;
  std::size_t line = 0; ///< where its stanza starts (1-based)
};

/// A line or stanza that was skipped, and why.
struct parse_problem {
  std::size_t line = 0;
  std::string what;
};

/// An index's packages in file order, and what could not be read.
struct packages_index {
  std::vector<package> packages;
  std::vector<parse_problem> problems;
};

/// Parses the text of a `Packages` file (`where` names it in problems;
/// `first_line` is the line its text starts at, for a chunk of a file). A
/// stanza without `Package`, a line that is neither `Field: value` nor a
/// continuation, or a relation field that does not parse is a problem
/// naming the line; that stanza is skipped and the others are read.
packages_index parse_packages(std::string_view text, std::string_view where,
                              std::size_t first_line = 1);

/// `p` as a stanza of the fields this file reads (a blank line after it):
/// parse_packages() reads it back as the same package.
std::string write_stanza(const package& p);

/// A relation field ("a (>= 1), b | c:any, d [amd64]") as alternatives of
/// names; empty names, or text after a name that is not a version, an
/// architecture list or a qualifier, make it an error (returned false).
bool parse_relation(std::string_view field,
                    std::vector<std::vector<std::string>>& out);

/// What a suite's dependency graph changed: each package whose edges or
/// content changed (for slice_graph::upsert) and the names removed.
struct graph_update {
  struct record {
    std::string name;
    std::vector<std::string> edges;
    bool content_changed = true; ///< false: only its edges moved
  };
  std::vector<record> upserts;
  std::vector<std::string> removed;
};

/// A suite's packages by name and their resolved dependency edges.
class suite_graph {
public:
  /// Recommends count as edges when `recommends` is set.
  explicit suite_graph(bool recommends = false) : recommends_(recommends) {}

  /// Adds or replaces `batch`'s packages (a later index overrides an
  /// earlier one's version of a name): the records to give the slice
  /// graph, including packages whose edges changed because a batch
  /// package now provides (or no longer provides) a name they depend on.
  graph_update apply(const std::vector<package>& batch);
  /// Removes packages by name.
  graph_update remove(const std::vector<std::string>& names);

  /// The package `name`, or null.
  const package* find(std::string_view name) const;
  /// The edges of `name` as resolved now.
  std::vector<std::string> edges_of(std::string_view name) const;
  /// Each Depends and Pre-Depends relation of `name` as the names that
  /// can satisfy it now: each alternative itself when it is a package,
  /// its providers, or the bare name when it is neither (absent; the
  /// relation is unsatisfiable unless another alternative is present).
  std::vector<std::vector<std::string>>
  resolved_relations(std::string_view name) const;
  /// Every package, by name.
  const std::map<std::string, package, std::less<>>& packages() const {
    return packages_;
  }
  /// Dependency names that are neither a package nor provided by one.
  std::size_t unresolved() const;
  std::size_t size() const { return packages_.size(); }

private:
  std::vector<std::string> resolve(const package& p) const;
  /// Every name `p` depends on (before resolution).
  std::set<std::string> wanted(const package& p) const;
  /// The packages depending on `names` (whose resolution may have
  /// changed), but those in `done`, resolved again: the changed ones
  /// added to `up` (edges only).
  void reresolve(const std::set<std::string>& names,
                 const std::map<std::string, bool>& done, graph_update& up);

  bool recommends_;
  std::map<std::string, package, std::less<>> packages_;
  /// Virtual name -> the packages providing it.
  std::map<std::string, std::set<std::string>, std::less<>> providers_;
  /// Dependency name -> the packages depending on it.
  std::map<std::string, std::set<std::string>, std::less<>> dependents_;
  std::map<std::string, std::vector<std::string>, std::less<>> edges_;
};

} // namespace debian_slices
