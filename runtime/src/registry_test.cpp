// The registry's answer to an unknown behaviour names what is registered
// and, with no plugin loaded, says that a shared library needs --plugin.
#include "sluice/registry.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

struct noop final : behaviour {
  void on_event(context&, const event&) override {}
};

TEST(Registry, AnUnknownBehaviourWithNoPluginLoadedSuggestsPlugin) {
  registry reg;
  ASSERT_TRUE(reg.add("demo.noop", [] { return std::make_unique<noop>(); }));
  auto made = reg.create("demo.nope");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code, errc::not_found);
  EXPECT_EQ(made.error().message,
            "unknown behaviour 'demo.nope' (registered: demo.noop; no plugin "
            "loaded: a behaviour built as a shared library needs --plugin "
            "PATH)");
}

TEST(Registry, AnUnknownBehaviourNamesThePluginsLoaded) {
  registry reg;
  reg.note_plugin("lib/libdemo.so");
  reg.note_plugin("lib/libmore.so");
  auto made = reg.create("demo.nope");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().message,
            "unknown behaviour 'demo.nope' (registered: none; plugins loaded: "
            "lib/libdemo.so, lib/libmore.so)");
}

} // namespace
} // namespace sluice
