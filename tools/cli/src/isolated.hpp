// Private: a read of a data directory run in a child process. LMDB trusts
// the pages it reads; one damaged in a way it does not check can crash it
// (a failed assertion, a stray pointer). A command that reads a directory
// that may be damaged runs the read this way and reports such a crash,
// pointing at `sluice check`, instead of dying with it.
#pragma once

#include <functional>
#include <streambuf>
#include <string>

namespace sluice::cli {

/// An output buffer that writes only whole lines to `fd` (standard output
/// by default): when the child crashes, what it printed ends with a whole
/// line, never half of one.
class whole_lines final : public std::streambuf {
public:
  explicit whole_lines(int fd = 1) : fd_(fd) {}
  whole_lines(const whole_lines&) = delete;
  whole_lines& operator=(const whole_lines&) = delete;
  ~whole_lines() override { sync(); }

protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  /// Writes every whole line held.
  int sync() override;

private:
  void write_lines();
  int fd_;
  std::string held_;
};

/// "a segmentation fault", "a bus error", "an abort", "signal N".
std::string signal_name(int sig);

/// Where the child was, shared with the parent: named in the message when
/// the child crashes ("database 'state'").
class crash_note {
public:
  void set(const std::string& where) noexcept;
  std::string get() const;

private:
  friend int isolated(const std::string&,
                      const std::function<int(crash_note&)>&);
  char* shared_ = nullptr;
};

/// Runs `body` in a child process (its output goes where this process's
/// goes) and returns its exit code; when the child dies of a signal, prints
/// that `data_dir` is damaged, naming the signal, the note and `sluice
/// check`, and returns 1.
int isolated(const std::string& data_dir,
             const std::function<int(crash_note&)>& body);

} // namespace sluice::cli
