// Recording a stage: its id (given once, kept after), its behaviour, and
// its queue database. Writer thread only; readers see the new queue through
// store::impl::queue_dbi.
#include <algorithm>

#include "lmdb_env.hpp"
#include "sluice/v1/store.pb.h"

namespace sluice {

result<std::uint32_t> store::register_stage(const std::string& name,
                                            const std::string& behaviour,
                                            changelog_retention changelog) {
  auto& p = *impl_;
  if (p.opts.read_only)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin transaction");
  // After LMDB's writer lock, as store::commit takes it (queue_dbi): the
  // other order can deadlock against a commit on another thread.
  std::lock_guard<std::mutex> guard{p.dbi_mtx};
  auto mkey = std::string(stage_key_prefix) + name;
  MDB_val k = as_val(mkey), v;
  v1::StageMeta sm;
  rc = db_get(t.get(), p.meta, &k, &v);
  if (rc == 0) {
    if (!sm.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)))
      return fail(errc::corrupt, p.opts.dir + ": meta record " + mkey
                                     + " is not a valid StageMeta");
  } else {
    std::uint32_t max_id = 0;
    for (auto& [id, dbi] : p.queues)
      max_id = std::max(max_id, id);
    sm.set_name(name);
    sm.set_id(max_id + 1);
  }
  if (sm.behaviour() != behaviour) {
    sm.set_behaviour(behaviour);
    auto bytes = sm.SerializeAsString();
    MDB_val bv = as_val(bytes);
    if ((rc = db_put(t.get(), p.meta, &k, &bv, 0)) != 0)
      return lmdb_error(rc, p.opts.dir + ": record stage " + name);
  }
  auto d = p.open_db(t.get(), queue_db_name(name), true);
  if (!d)
    return d.error();
  auto log = open_changelog(t.get(), p, name, changelog);
  if (!log)
    return log.error();
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": commit stage " + name);
  p.queues[sm.id()] = *d;
  p.stage_names[sm.id()] = name;
  if (*log)
    p.changelogs[sm.id()] = {**log, changelog};
  else
    p.changelogs.erase(sm.id());
  return sm.id();
}

} // namespace sluice
