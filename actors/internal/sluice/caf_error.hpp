// Internal, with CAF: `sluice::error` across an actor hop. A sluice error
// travels as a `caf::error` of category "sluice" (code = errc, context =
// the message), so the receiver gets the same kind back. For the node's
// components (actors, cluster); like `node_extension.hpp`, this header
// includes CAF (only its forward declarations). Pure functions.
#pragma once

#include <caf/fwd.hpp>

#include <string>

#include "sluice/result.hpp"

namespace sluice {

/// `err` as a CAF error of category "sluice": code = `err.code`, context =
/// `err.message`. Survives local and remote hops.
caf::error to_caf_error(const error& err);

/// The sluice error that `e` carries. Precondition: `e` holds an error.
/// A "sluice" error gives back its errc and message. Any other (CAF's own,
/// `sec` or an exit reason) keeps CAF's rendering as the message, e.g.
/// "system_error(request_timeout)", with the kind:
/// - `sec::unexpected_message`, `unexpected_response`, `invalid_argument`:
///   errc::invalid_argument;
/// - `sec::runtime_error` (an exception escaped a handler): errc::behaviour;
/// - every other `sec` (timeouts, a receiver down, no route, a failed
///   connection...), exit reasons and unknown categories: errc::unavailable.
error from_caf_error(const caf::error& e);

/// Text for a log line or a failure message: a "sluice" error as
/// `error::describe()` ("config: ..."), any other as CAF renders it.
std::string describe_error(const caf::error& e);

/// Registers the "sluice" category's renderer on `cfg`, so that
/// `actor_system::render` prints "sluice:config: ...".
void add_sluice_error_category(caf::actor_system_config& cfg);

} // namespace sluice
