// Errors as values at component boundaries: `sluice::error` and
// `sluice::result<T>`. Plain value types; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

/// Sluice's public API: the runtime (topology, store, behaviours), the actor
/// node that runs a pipeline, and the command line tool's library.
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
  no_space,             ///< the disk or the LMDB map is full; try again
                        ///< once space is freed
  // A new kind goes here, before nothing else: errc_from_code() takes
  // every number up to `no_space` as known.
};

/// Human name of an error family, e.g. "config".
const char* to_string(errc code) noexcept;

/// The family whose number is `code`, as an errc travels in a wire format
/// or a CAF error; errc::unavailable for a number this build does not know
/// (a newer peer's family, or none sent).
errc errc_from_code(std::uint32_t code) noexcept;

/// An error: a family plus a message that names what was wrong and where.
struct error {
  /// The family; tools map it to an exit code.
  errc code = errc::invalid_argument;
  /// What was wrong and where, without the family: "pipeline.yaml:12:
  /// stages[1].behaviour: unknown behaviour 'x'".
  std::string message;

  /// The family's name, then the message: "config: pipeline.yaml:12:
  /// stages[1].behaviour: unknown behaviour 'x'".
  std::string describe() const;

  /// The same error with `context` before its message, its family kept:
  /// `r.error().within("--catalog")` gives "--catalog: " + message.
  error within(const std::string& context) const;
};

/// Either a value or an error. A minimal `std::expected` for C++20. The
/// accessors do not check: reading the value of an error, or the error of
/// a value, throws std::bad_variant_access. Test `has_value()` first.
template <class T>
class [[nodiscard]] result {
public:
  /// A success holding `value`; implicit, so `return value;` works.
  result(T value) : v_(std::move(value)) {}
  /// A failure holding `err`; implicit, so `return fail(...);` works.
  result(sluice::error err) : v_(std::move(err)) {}

  /// True when this holds a value, false when it holds an error.
  bool has_value() const noexcept { return v_.index() == 0; }
  /// Same as `has_value()`.
  explicit operator bool() const noexcept { return has_value(); }

  /// The value. Precondition: `has_value()`.
  T& value() & { return std::get<0>(v_); }
  /// The value, read-only. Precondition: `has_value()`.
  const T& value() const& { return std::get<0>(v_); }
  /// The value, moved out of a temporary result. Precondition: `has_value()`.
  T&& value() && { return std::get<0>(std::move(v_)); }
  /// Same as `value()`. Precondition: `has_value()`.
  T& operator*() & { return value(); }
  /// Same as `value()`, read-only. Precondition: `has_value()`.
  const T& operator*() const& { return value(); }
  /// Member access to the value. Precondition: `has_value()`.
  T* operator->() { return &value(); }
  /// Member access to the value, read-only. Precondition: `has_value()`.
  const T* operator->() const { return &value(); }

  /// The error. Precondition: `!has_value()`.
  const sluice::error& error() const& { return std::get<1>(v_); }

private:
  std::variant<T, sluice::error> v_;
};

/// A result with no value: success, or an error.
template <>
class [[nodiscard]] result<void> {
public:
  /// A success; `return {};` in a function returning `result<void>`.
  result() = default;
  /// A failure holding `err`; implicit, so `return fail(...);` works.
  result(sluice::error err) : err_(std::move(err)), ok_(false) {}
  /// True on success, false when this holds an error.
  bool has_value() const noexcept { return ok_; }
  /// Same as `has_value()`.
  explicit operator bool() const noexcept { return ok_; }
  /// The error. Meaningful only when `!has_value()`; a success gives a
  /// default error with an empty message.
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
