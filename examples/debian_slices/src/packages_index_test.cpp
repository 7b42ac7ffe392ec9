#include "debian_slices/packages_index.hpp"

#include <gtest/gtest.h>

#include "sluice/slice_graph.hpp"
#include "test_files.hpp"

namespace debian_slices {
namespace {

using test_files::read_file;

using strings = std::vector<std::string>;

TEST(PackagesIndex, ReadsTheFieldsAndRelationsOfEachStanza) {
  auto idx = parse_packages(R"(Package: activemq
Version: 5.17.2+dfsg-2+deb12u1
Installed-Size: 649
Maintainer: Debian Java Maintainers <pkg-java@lists.debian.org>
Architecture: all
Depends: adduser (>= 3.11), default-jre-headless | java7-runtime-headless, python3:any, libfoo [amd64 i386] <!nocheck>
Description: Java message broker - server
 A long description, on continuation lines.
Pre-Depends: init-system-helpers (>= 1.54~)
Recommends: velocity
Section: java

Package: exim4-daemon-light
Source: exim4 (4.96-15)
Version: 4.96-15
Installed-Size: 1234
Provides: mail-transport-agent, exim4-localscanapi-6.0 (= 1)
)",
                            "Packages");
  ASSERT_TRUE(idx.problems.empty()) << idx.problems[0].what;
  ASSERT_EQ(idx.packages.size(), 2u);
  auto& a = idx.packages[0];
  EXPECT_EQ(a.name, "activemq");
  EXPECT_EQ(a.version, "5.17.2+dfsg-2+deb12u1");
  EXPECT_EQ(a.installed_size_kib, 649u);
  EXPECT_EQ(a.architecture, "all");
  EXPECT_EQ(a.section, "java");
  EXPECT_EQ(a.line, 1u);
  ASSERT_EQ(a.depends.size(), 4u);
  EXPECT_EQ(a.depends[0], strings{"adduser"});
  EXPECT_EQ(a.depends[1],
            (strings{"default-jre-headless", "java7-runtime-headless"}));
  EXPECT_EQ(a.depends[2], strings{"python3"});
  EXPECT_EQ(a.depends[3], strings{"libfoo"});
  EXPECT_EQ(a.pre_depends, std::vector<strings>{{"init-system-helpers"}});
  EXPECT_EQ(a.recommends, std::vector<strings>{{"velocity"}});
  auto& e = idx.packages[1];
  EXPECT_EQ(e.source, "exim4");
  EXPECT_EQ(e.line, 13u);
  EXPECT_EQ(e.provides,
            (strings{"mail-transport-agent", "exim4-localscanapi-6.0"}));
}

TEST(PackagesIndex, AMalformedStanzaIsNamedByLineAndTheOthersAreRead) {
  auto idx = parse_packages(R"(Package: good-one
Version: 1

Package: bad-relation
Depends: libc6 (>= 2.34

Version: 2
Depends: orphan

Package: bad-size
Installed-Size: lots

this line has no colon
Package: after-garbage

Package: Upper_Case

Package: good-two
)",
                            "sample.Packages");
  strings names;
  for (auto& p : idx.packages)
    names.push_back(p.name);
  EXPECT_EQ(names, (strings{"good-one", "good-two"}));
  ASSERT_EQ(idx.problems.size(), 5u);
  EXPECT_EQ(idx.problems[0].what,
            "sample.Packages:4: package 'bad-relation': field Depends does "
            "not parse: 'libc6 (>= 2.34' (the stanza is skipped)");
  EXPECT_EQ(idx.problems[1].what,
            "sample.Packages:7: a stanza without a Package field (skipped)");
  EXPECT_EQ(idx.problems[2].what,
            "sample.Packages:10: package 'bad-size': Installed-Size 'lots' "
            "is not a number (the stanza is skipped)");
  EXPECT_EQ(idx.problems[3].what,
            "sample.Packages:13: 'this line has no colon' is neither 'Field: "
            "value' nor a continuation (the stanza is skipped)");
  EXPECT_EQ(idx.problems[4].what,
            "sample.Packages:16: package name 'Upper_Case' is not a Debian "
            "package name (skipped)");
}

package pkg(std::string name, std::vector<strings> depends,
            strings provides = {}, std::string version = "1") {
  package p;
  p.name = std::move(name);
  p.version = std::move(version);
  p.depends = std::move(depends);
  p.provides = std::move(provides);
  return p;
}

TEST(SuiteGraph, VirtualNamesResolveToEveryProviderAndUnknownNamesWait) {
  suite_graph g;
  auto up = g.apply(
      {pkg("mutt", {{"mail-transport-agent"}, {"libc6"}}),
       pkg("exim4", {{"libc6"}}, {"mail-transport-agent"}),
       pkg("postfix", {{"libc6"}, {"postfix"}}, {"mail-transport-agent"}),
       pkg("tool", {{"gone-lib"}})});
  EXPECT_EQ(g.edges_of("mutt"), (strings{"exim4", "libc6", "postfix"}));
  // Naming itself is a self-loop, left for the slice graph to count and
  // ignore.
  EXPECT_EQ(g.edges_of("postfix"), (strings{"libc6", "postfix"}));
  EXPECT_EQ(g.edges_of("tool"), strings{"gone-lib"});
  EXPECT_EQ(g.unresolved(), 2u); // libc6 and gone-lib
  EXPECT_EQ(up.upserts.size(), 4u);

  // A later index: a new provider; mutt is re-resolved (edges only).
  up = g.apply({pkg("msmtp-mta", {}, {"mail-transport-agent"})});
  ASSERT_EQ(up.upserts.size(), 2u);
  EXPECT_EQ(up.upserts[0].name, "msmtp-mta");
  EXPECT_TRUE(up.upserts[0].content_changed);
  EXPECT_EQ(up.upserts[1].name, "mutt");
  EXPECT_FALSE(up.upserts[1].content_changed);
  EXPECT_EQ(up.upserts[1].edges,
            (strings{"exim4", "libc6", "msmtp-mta", "postfix"}));

  // The same version again changes no content; a new version does.
  up = g.apply({pkg("exim4", {{"libc6"}}, {"mail-transport-agent"})});
  ASSERT_EQ(up.upserts.size(), 1u);
  EXPECT_FALSE(up.upserts[0].content_changed);
  up = g.apply({pkg("exim4", {{"libc6"}}, {"mail-transport-agent"}, "2")});
  EXPECT_TRUE(up.upserts[0].content_changed);

  up = g.remove({"postfix", "not-there"});
  EXPECT_EQ(up.removed, strings{"postfix"});
  ASSERT_EQ(up.upserts.size(), 1u);
  EXPECT_EQ(up.upserts[0].edges, (strings{"exim4", "libc6", "msmtp-mta"}));
}

/// The bundled sample (every 25th package of bookworm main amd64, and the
/// bookworm-security entries of those): the slices after the main index
/// and after the security batch equal a recompute from scratch.
TEST(SuiteGraph, TheSampleSlicesIncrementallyAsARecomputeDoes) {
  auto main = parse_packages(
      read_file(DEBIAN_SLICES_DATA_DIR "/bookworm_main_sample.Packages"),
      "bookworm_main_sample.Packages");
  auto security = parse_packages(
      read_file(DEBIAN_SLICES_DATA_DIR "/bookworm_security_sample.Packages"),
      "bookworm_security_sample.Packages");
  ASSERT_TRUE(main.problems.empty()) << main.problems[0].what;
  ASSERT_TRUE(security.problems.empty()) << security.problems[0].what;
  ASSERT_GT(main.packages.size(), 2000u);
  ASSERT_GT(security.packages.size(), 50u);
  suite_graph suite;
  sluice::slices::slice_graph slices({.min_in_degree = 3, .listed = {}});
  auto feed = [&](const graph_update& up) {
    for (auto& r : up.upserts)
      slices.upsert(r.name, r.edges, r.content_changed);
    for (auto& n : up.removed)
      slices.remove(n);
    return slices.take_changes();
  };
  auto first = feed(suite.apply(main.packages));
  EXPECT_EQ(slices.partition(), slices.recompute());
  auto before = slices.slices();
  auto changes = feed(suite.apply(security.packages));
  EXPECT_EQ(slices.partition(), slices.recompute());
  EXPECT_FALSE(changes.empty());
  EXPECT_LT(changes.size(), before.size() / 4)
      << "a security batch touches few slices";
  std::size_t kept = 0;
  for (auto& [id, members] : slices.slices())
    if (before.count(id) && before.at(id) == members)
      ++kept;
  EXPECT_GT(kept, before.size() / 2) << "untouched slices keep their ids";
  EXPECT_GT(first.size(), 100u);
}

} // namespace
} // namespace debian_slices
