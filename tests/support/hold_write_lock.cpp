// hold_write_lock DIR: opens (creating if need be) the LMDB environment in
// DIR, begins a write transaction, prints "locked" and waits. While it
// waits, any other writer of DIR (a `sluice run` opening its store) blocks.
// On SIGTERM or SIGINT it aborts the transaction and exits 0; a SIGKILL also
// releases the lock (LMDB's mutexes are robust).
#include <lmdb.h>
#include <signal.h>

#include <cstdint>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  // Block the signals first, so sigwait receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  int rc = mdb_env_create(&env);
  // As the store opens it (runtime/src/store/store.cpp), so that the
  // reader table sized by the first opener suits the node too.
  if (rc == 0)
    rc = mdb_env_set_maxdbs(env, 256);
  if (rc == 0)
    rc = mdb_env_set_maxreaders(env, 256);
  if (rc == 0)
    rc = mdb_env_set_mapsize(env, std::uint64_t{64} << 30);
  if (rc == 0)
    rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0644);
  if (rc == 0)
    rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) {
    std::fprintf(stderr, "hold_write_lock: %s: %s\n", argv[1],
                 mdb_strerror(rc));
    return 1;
  }
  std::printf("locked\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return 0;
}
