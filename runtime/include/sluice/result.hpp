// Errors as values at component boundaries: `sluice::error` and
// `sluice::result<T>`. Plain value types; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace sluice {

/// What went wrong, by family. Stable: tools map these to exit codes.
enum class errc : std::uint8_t {
  invalid_argument = 1, ///< a bad flag, a bad request
  config,               ///< malformed or inconsistent topology / config
  parse,                ///< a malformed input record
  not_found,            ///< unknown key, stage, behaviour or file
  io,                   ///< the file system said no
  storage,              ///< LMDB failed
  corrupt,              ///< stored bytes do not decode
  behaviour,            ///< user code threw
  unavailable,          ///< overloaded or shutting down; try again
};

/// Human name of an error family, e.g. "config".
const char* to_string(errc code) noexcept;

/// An error: a family plus a message that names what was wrong and where.
struct error {
  errc code = errc::invalid_argument;
  std::string message;

  /// "config: pipeline.yaml:12: stages[1].behaviour: unknown behaviour 'x'".
  std::string describe() const;
};

/// Either a value or an error. A minimal `std::expected` for C++20.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::move(value)) {}
  result(sluice::error err) : v_(std::move(err)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const sluice::error& error() const& { return std::get<1>(v_); }

private:
  std::variant<T, sluice::error> v_;
};

/// A result with no value.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(sluice::error err) : err_(std::move(err)), ok_(false) {}
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const sluice::error& error() const& { return err_; }

private:
  sluice::error err_;
  bool ok_ = true;
};

/// Shorthand: `return fail(errc::parse, "line 3: ...");`
inline error fail(errc code, std::string message) {
  return error{code, std::move(message)};
}

} // namespace sluice
