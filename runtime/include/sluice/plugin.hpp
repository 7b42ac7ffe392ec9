// Behaviours in a shared library, loaded with `sluice ... --plugin lib.so`.
//
// A plugin defines its entry point with SLUICE_PLUGIN:
//
//   #include "sluice/plugin.hpp"
//   SLUICE_PLUGIN(reg) { return bool(reg.add<my_behaviour>("my.name")); }
//
// and is built as a MODULE library against Sluice's headers only: the
// symbols of sluice::runtime come from the executable that loads it (built
// with ENABLE_EXPORTS, as `sluice` is). The ABI version guards against a
// plugin built for another layout of the behaviour API.
#pragma once

#include <cstdint>
#include <string>

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice {

/// Raised whenever `behaviour`, `context`, `event` or `registry` change
/// layout; a plugin built against another value is refused.
inline constexpr std::uint32_t plugin_abi_version = 3;

/// Loads the plugin at `path` and lets it register its behaviours into
/// `reg`. A missing file, a missing entry point, an ABI mismatch or a
/// failed registration is an error naming the file and the cause. Plugins
/// stay loaded until the process exits.
result<void> load_plugin(const std::string& path, registry& reg);

} // namespace sluice

/// Defines a plugin's entry points; the body registers into `reg` and
/// returns true on success.
// `reg` is the name of the parameter the macro declares, not an expression.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SLUICE_PLUGIN(reg)                                                     \
  extern "C" std::uint32_t sluice_plugin_abi() {                               \
    return ::sluice::plugin_abi_version;                                       \
  }                                                                            \
  extern "C" bool sluice_plugin_register(::sluice::registry& reg)
// NOLINTEND(bugprone-macro-parentheses)
