// The exit reason of an actor that let an exception escape: the
// exception's text, so a supervisor's log says what went wrong (CAF's
// default handler keeps only "runtime_error").
#pragma once

#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include <exception>

namespace sluice {

/// For `set_exception_handler`: a sluice error of kind errc::behaviour
/// with the exception's what() text (see `sluice/caf_error.hpp`).
caf::error exception_reason(caf::scheduled_actor*, std::exception_ptr& eptr);

} // namespace sluice
