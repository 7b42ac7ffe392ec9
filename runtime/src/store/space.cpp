// How full the store is: why the last commit failed for lack of space
// (a serving node pauses its input while it says so), and how much of the
// LMDB map the data file uses.
#include "lmdb_env.hpp"

namespace sluice {

void store::impl::note_space(const std::string& why) {
  // Every commit that succeeds clears it: while clear, only a flag is read.
  if (why.empty() && !short_of_space.load(std::memory_order_acquire))
    return;
  std::lock_guard<std::mutex> guard{space_mtx};
  out_of_space = why;
  short_of_space.store(!why.empty(), std::memory_order_release);
}

bool store::short_of_space() const noexcept {
  return impl_->short_of_space.load(std::memory_order_acquire);
}

std::string store::out_of_space() const {
  std::lock_guard<std::mutex> guard{impl_->space_mtx};
  return impl_->out_of_space;
}

store::space_use space_of(MDB_env* env) noexcept {
  MDB_envinfo info{};
  MDB_stat st{};
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0)
    return {};
  return {(static_cast<std::uint64_t>(info.me_last_pgno) + 1) * st.ms_psize,
          static_cast<std::uint64_t>(info.me_mapsize)};
}

store::space_use store::space() const noexcept {
  return space_of(impl_->env);
}

} // namespace sluice
