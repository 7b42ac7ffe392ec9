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

namespace sluice::cli {

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
  if (WIFSIGNALED(status)) {
    auto where = note.get();
    print_error(
        data_dir + " is damaged: LMDB crashed reading it ("
        + signal_name(WTERMSIG(status)) + (where.empty() ? "" : ", in " + where)
        + "); nothing damaged was printed. Run `sluice check --data " + data_dir
        + "` for what is damaged, and restore a backup (sluice "
          "restore) or, on a cluster, rebuild this member from its "
          "replicas");
    return failed;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : failed;
}

} // namespace sluice::cli
