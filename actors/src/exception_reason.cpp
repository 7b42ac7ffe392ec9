// Exit reasons from escaped exceptions.
#include "exception_reason.hpp"

#include <caf/error.hpp>

#include <stdexcept>

#include "sluice/caf_error.hpp"

namespace sluice {

caf::error exception_reason(caf::scheduled_actor*, std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return to_caf_error(fail(errc::behaviour, e.what()));
  } catch (...) {
    return to_caf_error(fail(errc::behaviour, "a non-standard exception"));
  }
}

} // namespace sluice
