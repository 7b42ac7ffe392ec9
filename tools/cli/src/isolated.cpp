// A read of a data directory in a child process (isolated.hpp).
#include "isolated.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <system_error>

#include "commands.hpp"
#include "sluice/private_files.hpp"

namespace sluice::cli {

namespace {
constexpr std::size_t whole_lines_batch = std::size_t{64} << 10;
} // namespace

whole_lines::int_type whole_lines::overflow(int_type c) {
  if (c != traits_type::eof()) {
    held_.push_back(static_cast<char>(c));
    if (held_.size() >= whole_lines_batch)
      write_lines();
  }
  return traits_type::not_eof(c);
}

std::streamsize whole_lines::xsputn(const char* s, std::streamsize n) {
  held_.append(s, static_cast<std::size_t>(n));
  if (held_.size() >= whole_lines_batch)
    write_lines();
  return n;
}

int whole_lines::sync() {
  write_lines();
  return 0;
}

void whole_lines::write_lines() {
  auto end = held_.rfind('\n');
  if (end == std::string::npos)
    return;
  ++end; // through the newline
  (void)write_all(fd_, std::string_view(held_).substr(0, end),
                  "standard output");
  held_.erase(0, end);
}

std::string signal_name(int sig) {
  switch (sig) {
  case SIGSEGV:
    return "a segmentation fault";
  case SIGBUS:
    return "a bus error";
  case SIGABRT:
    return "an abort";
  default:
    return "signal " + std::to_string(sig);
  }
}

namespace {
constexpr std::size_t note_size = 256;
} // namespace

void crash_note::set(const std::string& where) noexcept {
  if (!shared_)
    return;
  auto n = std::min(where.size(), note_size - 1);
  std::memcpy(shared_, where.data(), n);
  shared_[n] = '\0';
}

std::string crash_note::get() const {
  return shared_ ? shared_ : "";
}

int isolated(const std::string& data_dir,
             const std::function<int(crash_note&)>& body) {
  crash_note note;
  void* mem = ::mmap(nullptr, note_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem != MAP_FAILED) {
    note.shared_ = static_cast<char*>(mem);
    note.shared_[0] = '\0';
  }
  struct unmap {
    void* m;
    ~unmap() {
      if (m != MAP_FAILED)
        ::munmap(m, note_size);
    }
  } unmapped{mem};
  std::cout.flush();
  std::cerr.flush();
  pid_t child = ::fork();
  if (child < 0) {
    print_error("fork: " + std::generic_category().message(errno));
    return failed;
  }
  if (child == 0) {
    int rc = body(note);
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
    // The reader of the output went away (`sluice export | head`): as any
    // command in a pipe, stop quietly with the shell's code for it.
    return 128 + SIGPIPE;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGSEGV
      && WTERMSIG(status) != SIGBUS && WTERMSIG(status) != SIGABRT) {
    // Stopped from outside (Ctrl-C, kill, the OOM killer): not damage.
    print_error("the read of " + data_dir + " was stopped by "
                + signal_name(WTERMSIG(status)));
    return failed;
  }
  if (WIFSIGNALED(status)) {
    auto where = note.get();
    print_error(data_dir + " is damaged: LMDB crashed reading it ("
                + signal_name(WTERMSIG(status))
                + (where.empty() ? "" : ", in " + where)
                + "); what was printed before is whole and undamaged. Run "
                  "`sluice check --data "
                + data_dir
                + "` for what is damaged, and restore a backup (sluice "
                  "restore) or, on a cluster, rebuild this member from its "
                  "replicas");
    return failed;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : failed;
}

} // namespace sluice::cli
