// store::check: a walk of every database and record (sluice/store/check.hpp).
#include "sluice/store/check.hpp"

#include <memory>
#include <vector>

#include "lmdb_env.hpp"

namespace sluice {

namespace {

/// A damaged finding: counted, and told to the callback.
struct finder {
  const check_callbacks& cb;
  check_report& report;

  void operator()(const std::string& database, std::string key,
                  std::string problem) const {
    ++report.damaged;
    if (cb.on_finding)
      cb.on_finding({database, std::move(key), std::move(problem)});
  }
};

/// Walks one database with LMDB's own reads (no checksum stripped), checking
/// every value's checksum when `sealed`; returns the records read. `broken`:
/// LMDB failed, which may leave the transaction unusable.
std::uint64_t walk(MDB_txn* t, MDB_dbi dbi, const std::string& name,
                   bool sealed, const finder& found, bool& broken) {
  MDB_stat st{};
  int rc = mdb_stat(t, dbi, &st);
  if (rc != 0) {
    found(name, "",
          std::string("LMDB cannot read its record: ") + mdb_strerror(rc));
    broken = true;
    return 0;
  }
  MDB_cursor* c = nullptr;
  if ((rc = mdb_cursor_open(t, dbi, &c)) != 0) {
    found(name, "", std::string("LMDB cannot open it: ") + mdb_strerror(rc));
    broken = true;
    return 0;
  }
  std::uint64_t n = 0;
  std::string last;
  MDB_val k, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    ++n;
    last.assign(as_view(k));
    std::string_view value;
    if (sealed && !unseal(last, as_view(v), value))
      found(name, keys::printable(last), "fails its checksum");
  }
  mdb_cursor_close(c);
  if (rc != MDB_NOTFOUND) {
    broken = true;
    found(name, n == 0 ? "" : keys::printable(last),
          std::string("LMDB cannot read on ")
              + (n == 0 ? "from its first page" : "after this key") + ": "
              + mdb_strerror(rc));
  } else if (n != st.ms_entries) {
    found(name, "",
          "LMDB's count says " + std::to_string(st.ms_entries) + " records; "
              + std::to_string(n) + " could be read (a damaged page)");
  }
  return n;
}

} // namespace

std::uint64_t store::damaged_reads() const noexcept {
  return impl_->format.damaged_reads.load(std::memory_order_relaxed);
}

result<check_report> store::check(const check_callbacks& cb) const {
  auto& p = *impl_;
  check_report report;
  report.format = p.format.version;
  report.checksums = p.format.checksums;
  int rc = 0;
  // One read transaction for the whole walk, unless LMDB fails a read in
  // it (a damaged page): the rest goes on in a new one.
  auto t = std::make_unique<txn>(p.env, true, rc);
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": begin transaction");
  std::vector<std::string> names;
  if ((rc = database_names(t->get(), names)) != 0)
    return lmdb_error(rc, p.opts.dir + ": read the list of databases");
  auto fresh = [&](bool& broken) -> result<void> {
    if (!broken)
      return {};
    broken = false;
    t.reset();
    t = std::make_unique<txn>(p.env, true, rc);
    if (rc != 0)
      return lmdb_error(rc, p.opts.dir + ": begin transaction");
    return {};
  };
  bool broken = false;
  finder found{cb, report};
  for (auto& name : names) {
    if (cb.on_database)
      cb.on_database(name);
    MDB_dbi dbi = 0;
    if ((rc = mdb_dbi_open(t->get(), name.c_str(), 0, &dbi)) != 0) {
      found(name, "", std::string("LMDB cannot open it: ") + mdb_strerror(rc));
      broken = true;
    } else {
      ++report.databases;
      report.records +=
          walk(t->get(), dbi, name, report.checksums, found, broken);
    }
    if (auto f = fresh(broken); !f)
      return f.error();
  }
  // The free-page list: a writer takes pages from it, so a damaged one
  // would have live pages written over.
  const std::string free_pages = "(free pages)";
  if (cb.on_database)
    cb.on_database(free_pages);
  walk(t->get(), 0, free_pages, false, found, broken);
  return report;
}

} // namespace sluice
