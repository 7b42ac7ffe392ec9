// The "sluice" CAF error category: sluice::error to and from caf::error,
// and its renderer. Pure functions; safe from any thread.
#include "sluice/caf_error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace sluice {

namespace {

constexpr caf::atom_value category = caf::atom("sluice");

std::string message_of(const caf::message& context) {
  if (context.match_elements<std::string>())
    return context.get_as<std::string>(0);
  return caf::to_string(context);
}

errc errc_of(caf::sec code) {
  switch (code) {
  case caf::sec::unexpected_message:
  case caf::sec::unexpected_response:
  case caf::sec::invalid_argument:
    return errc::invalid_argument;
  case caf::sec::runtime_error:
    return errc::behaviour;
  default:
    return errc::unavailable;
  }
}

} // namespace

caf::error to_caf_error(const error& err) {
  return caf::error{static_cast<std::uint8_t>(err.code), category,
                    caf::make_message(err.message)};
}

error from_caf_error(const caf::error& e) {
  // Defensive: an empty caf::error has no code or category to read (CAF
  // crashes on it); the header asks callers to test `e` first.
  if (!e)
    return error{errc::unavailable, caf::to_string(e)};
  if (e.category() == category)
    return error{errc_from_code(e.code()), message_of(e.context())};
  auto kind = errc::unavailable;
  if (e.category() == caf::atom("system"))
    kind = errc_of(static_cast<caf::sec>(e.code()));
  return error{kind, caf::to_string(e)};
}

std::string describe_error(const caf::error& e) {
  if (e && e.category() == category)
    return from_caf_error(e).describe();
  return caf::to_string(e);
}

void add_sluice_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(category, [](std::uint8_t code, caf::atom_value,
                                      const caf::message& context) {
    return std::string("sluice:") + to_string(errc_from_code(code)) + ": "
           + message_of(context);
  });
}

} // namespace sluice
