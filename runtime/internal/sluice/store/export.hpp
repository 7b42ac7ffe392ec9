// `sluice export`: one line per key of a stage, "key<TAB>state-as-JSON",
// sorted by key. Reads beside a running writer.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "sluice/registry.hpp"
#include "sluice/result.hpp"

namespace sluice {

class store;
namespace v1 {
class KeyState;
} // namespace v1

/// Whether a key has no state as export and change feeds show it: removed
/// (`cleared`), or never set by an event (empty, only failures counted).
bool state_absent(const v1::KeyState& ks);

/// Writes every key of `stage` in `st`. The stage's behaviour (looked up in
/// `reg` by the name recorded in the data directory) renders the state; an
/// unknown behaviour falls back to a JSON string of the bytes. A key whose
/// state fails its checksum is left out and given to `on_damaged` (the
/// export goes on); without one, it ends the export with the error.
result<std::size_t>
export_stage(const store& st, const std::string& stage, const registry& reg,
             std::ostream& out,
             const std::function<void(const error&)>& on_damaged = {});

} // namespace sluice
