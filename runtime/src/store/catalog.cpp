// The on-demand source's catalog: registry records indexed by key in the
// `catalog` database, once per catalog file, so an unknown key is looked
// up in microseconds instead of reading the file. And the pruning of
// publish-once ids (`seen`), the webhook's dedupe.
#include "lmdb_env.hpp"
#include "sluice/store/store.hpp"

namespace sluice {

namespace {

const std::string catalog_source_key = "catalog_source";

} // namespace

result<std::string> store::catalog_source() const {
  auto& p = *impl_;
  if (!p.has_catalog)
    return std::string();
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read catalog source");
  MDB_val k = as_val(catalog_source_key), v;
  rc = db_get(t.get(), p.meta, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::string();
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read catalog source");
  return std::string(as_view(v));
}

result<std::size_t> store::index_catalog(
    const std::string& source,
    const std::vector<std::pair<std::string, std::string>>& entries) {
  auto& p = *impl_;
  if (!p.has_catalog)
    return fail(errc::invalid_argument, p.opts.dir + " is open read-only");
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin catalog index");
  if ((rc = mdb_drop(t.get(), p.catalog, 0)) != 0)
    return lmdb_error(rc, p.opts.dir + ": empty the catalog");
  std::size_t n = 0;
  for (auto& [key, bytes] : entries) {
    MDB_val k = as_val(key), v = as_val(bytes);
    if ((rc = db_put(t.get(), p.catalog, &k, &v, 0)) != 0)
      return lmdb_error(rc, p.opts.dir + ": index catalog entry "
                                + keys::printable(key));
    ++n;
  }
  MDB_val k = as_val(catalog_source_key), v = as_val(source);
  if ((rc = db_put(t.get(), p.meta, &k, &v, 0)) != 0 || (rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": commit catalog index");
  return n;
}

result<std::optional<std::string>>
store::catalog_entry(const std::string& key) const {
  auto& p = *impl_;
  using out_t = std::optional<std::string>;
  if (!p.has_catalog)
    return out_t{};
  int rc = 0;
  txn t{p.env, true, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read catalog");
  MDB_val k = as_val(key), v;
  rc = db_get(t.get(), p.catalog, &k, &v);
  if (rc == MDB_NOTFOUND)
    return out_t{};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read catalog");
  return out_t{std::string(as_view(v))};
}

result<std::size_t> store::prune_seen(std::int64_t before_ns) {
  auto& p = *impl_;
  if (!p.has_catalog)
    return std::size_t{0};
  int rc = 0;
  txn t{p.env, false, rc};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin pruning publish-once ids");
  std::size_t n = 0;
  {
    cursor c{t.get(), p.seen, rc};
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": cursor on seen");
    MDB_val k, v;
    for (rc = cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      auto when = keys::get_u64(as_view(v)).value_or(0);
      if (static_cast<std::int64_t>(when) < before_ns) {
        if ((rc = mdb_cursor_del(c.get(), 0)) != 0)
          return lmdb_error(rc, p.opts.dir + ": prune a publish-once id");
        ++n;
      }
    }
    if (rc != MDB_NOTFOUND)
      return lmdb_error(rc, p.opts.dir + ": scan publish-once ids");
  }
  if ((rc = t.commit()) != 0)
    return lmdb_error(rc, p.opts.dir + ": commit pruning");
  return n;
}

} // namespace sluice
