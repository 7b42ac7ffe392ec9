// Exit reasons from escaped exceptions.
#include "exception_reason.hpp"

#include <caf/sec.hpp>

#include <stdexcept>

namespace sluice {

caf::error exception_reason(caf::scheduled_actor*, std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, e.what());
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error, "a non-standard exception");
  }
}

} // namespace sluice
