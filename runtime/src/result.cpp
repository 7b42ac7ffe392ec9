// Names of error families and the one-line rendering of an error.
#include "sluice/result.hpp"

namespace sluice {

const char* to_string(errc code) noexcept {
  switch (code) {
  case errc::invalid_argument:
    return "invalid argument";
  case errc::config:
    return "config";
  case errc::parse:
    return "parse";
  case errc::not_found:
    return "not found";
  case errc::io:
    return "io";
  case errc::storage:
    return "storage";
  case errc::corrupt:
    return "corrupt";
  case errc::behaviour:
    return "behaviour";
  case errc::unavailable:
    return "unavailable";
  case errc::no_space:
    return "no space";
  }
  return "unknown";
}

errc errc_from_code(std::uint32_t code) noexcept {
  if (code >= static_cast<std::uint32_t>(errc::invalid_argument)
      && code <= static_cast<std::uint32_t>(errc::no_space))
    return static_cast<errc>(code);
  return errc::unavailable;
}

error error::within(const std::string& context) const {
  return error{code, context + ": " + message};
}

std::string error::describe() const {
  return std::string(to_string(code)) + ": " + message;
}

} // namespace sluice
