// Private: a read of a data directory run in a child process. LMDB trusts
// the pages it reads; one damaged in a way it does not check can crash it
// (a failed assertion, a stray pointer). A command that reads a directory
// that may be damaged runs the read this way and reports such a crash,
// pointing at `sluice check`, instead of dying with it.
#pragma once

#include <functional>
#include <string>

namespace sluice::cli {

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
