// libpq calls of a PostgreSQL source: checks, slot, snapshot, peek and
// advance. Every failure is an error value naming the source and the fix.
#include "sluice/sources/pg_capture.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>

namespace sluice::pg {

struct capture::conn {
  PGconn* pg = nullptr;
  ~conn() {
    if (pg)
      PQfinish(pg);
  }
};

namespace {

/// A query's result, freed on scope exit.
struct pg_result {
  PGresult* r = nullptr;
  explicit pg_result(PGresult* res) : r(res) {}
  ~pg_result() {
    if (r)
      PQclear(r);
  }
  pg_result(const pg_result&) = delete;
  pg_result& operator=(const pg_result&) = delete;
  int rows() const { return PQntuples(r); }
  std::string at(int row, int col) const {
    return PQgetisnull(r, row, col)
               ? std::string()
               : std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
  }
  bool null(int row, int col) const { return PQgetisnull(r, row, col) != 0; }
};

std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  for (auto& c : s)
    if (c == '\n')
      c = ' ';
  return s;
}

/// Transient (try again) or for a person to mend, by SQLSTATE.
errc classify(PGconn* pg, const PGresult* r) {
  if (!pg || PQstatus(pg) != CONNECTION_OK)
    return errc::unavailable;
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (!state)
    return errc::unavailable;
  std::string_view s(state);
  if (s.starts_with("08") || s.starts_with("57P") || s.starts_with("53")
      || s.starts_with("40") || s == "55006")
    return errc::unavailable;
  return errc::config;
}

} // namespace

capture::capture(const source_spec& spec, std::unique_ptr<conn> c)
    : spec_(spec), conn_(std::move(c)) {
  server_ = std::string(PQhost(conn_->pg) ? PQhost(conn_->pg) : "?") + ":"
            + (PQport(conn_->pg) ? PQport(conn_->pg) : "?") + "/"
            + (PQdb(conn_->pg) ? PQdb(conn_->pg) : "?");
  who_ = "source '" + spec_.name + "' (" + server_ + ")";
  std::string tables;
  for (auto& t : spec_.tables)
    tables += (tables.empty() ? "" : ",") + t;
  peek_sql_ =
      "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, "
      "$2::int, 'format-version', '2', 'include-transaction', 'true', "
      "'include-pk', 'true', 'include-timestamp', 'true', "
      "'add-tables', '"
      + tables + "')";
}

capture::~capture() = default;

namespace {

std::unique_ptr<PGconn, void (*)(PGconn*)> open_conn(const std::string& info,
                                                     bool replication) {
  // expand_dbname=1: `info` (the "dbname") is a whole connection string or
  // URI. Entries are taken in order, each overriding the ones before: the
  // defaults first (the user's string overrides them), `replication` last.
  std::vector<const char*> keys{"application_name", "connect_timeout",
                                "dbname"};
  std::vector<const char*> values{"sluice", "10", info.c_str()};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  return {PQconnectdbParams(keys.data(), values.data(), 1), PQfinish};
}

} // namespace

result<std::unique_ptr<capture>> capture::connect(const source_spec& spec) {
  auto pg = open_conn(spec.connection, false);
  if (!pg || PQstatus(pg.get()) != CONNECTION_OK) {
    auto why = first_line(pg ? PQerrorMessage(pg.get()) : "out of memory");
    // A malformed connection string is for a person to mend.
    auto code = why.find("invalid") != std::string::npos
                        || why.find("missing \"=\"") != std::string::npos
                    ? errc::config
                    : errc::unavailable;
    return fail(code, "source '" + spec.name + "': cannot connect: " + why);
  }
  auto c = std::make_unique<conn>();
  c->pg = pg.release();
  return std::unique_ptr<capture>(new capture(spec, std::move(c)));
}

namespace {

result<void> run(PGconn* pg, const std::string& who, const std::string& sql,
                 const std::string& doing) {
  pg_result r(PQexec(pg, sql.c_str()));
  auto st = PQresultStatus(r.r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return {};
  return fail(classify(pg, r.r),
              who + ": " + doing + ": " + first_line(PQerrorMessage(pg)));
}

/// A parameterized query returning rows.
result<std::unique_ptr<pg_result>> query(PGconn* pg, const std::string& who,
                                         const std::string& sql,
                                         const std::vector<std::string>& params,
                                         const std::string& doing) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (auto& p : params)
    values.push_back(p.c_str());
  auto r = std::make_unique<pg_result>(
      PQexecParams(pg, sql.c_str(), static_cast<int>(values.size()), nullptr,
                   values.data(), nullptr, nullptr, 0));
  if (PQresultStatus(r->r) == PGRES_TUPLES_OK
      || PQresultStatus(r->r) == PGRES_COMMAND_OK)
    return r;
  return fail(classify(pg, r->r),
              who + ": " + doing + ": " + first_line(PQerrorMessage(pg)));
}

// Later PostgreSQL releases (Debian's 15.20) let a role decode only with
// the plugins output_plugin_libraries lists (a setting only superusers may
// read). Asked by doing it: peeking at most one
// record of the existing slot, or creating a temporary slot (the server
// refuses a plugin before it waits for running transactions: given 250 ms,
// a wait means the plugin was let through). Only the refusal
// (insufficient privilege) is an error here: anything else shows where it
// did before.
result<void> plugin_allowed(PGconn* pg, const std::string& who,
                            const std::string& slot, bool exists) {
  auto probe_slot = "sluice_probe_" + std::to_string(PQbackendPID(pg));
  const char* params[] = {exists ? slot.c_str() : probe_slot.c_str()};
  auto sql = exists ? "SELECT count(*) FROM pg_logical_slot_peek_changes($1, "
                      "'0/1', NULL)"
                    : "SELECT pg_drop_replication_slot(slot_name) FROM "
                      "pg_create_logical_replication_slot($1, 'wal2json', "
                      "true)";
  // Its outcome shows in the probe's: a failed SET leaves no limit, and
  // the probe's own error is what counts.
  if (!exists)
    (void)run(pg, who, "SET statement_timeout = 250", "limit the probe");
  pg_result r(PQexecParams(pg, sql, 1, nullptr, params, nullptr, nullptr, 0));
  const char* state = PQresultErrorField(r.r, PG_DIAG_SQLSTATE);
  std::string refusal = state && std::strcmp(state, "42501") == 0
                            ? first_line(PQerrorMessage(pg))
                            : "";
  if (!exists)
    (void)run(pg, who, "RESET statement_timeout", "end the probe's limit");
  if (refusal.empty())
    return {};
  return fail(errc::config,
              who + ": " + refusal
                  + " (the server lets slots decode only with the plugins "
                    "its output_plugin_libraries lists: add wal2json to it, "
                    "e.g. ALTER SYSTEM SET "
                    "output_plugin_libraries = 'pgoutput, test_decoding, "
                    "wal2json'; SELECT pg_reload_conf();)");
}

} // namespace

result<probe_report> probe(const source_spec& spec) {
  probe_report out;
  auto cap = capture::connect(spec);
  if (cap) {
    out.server = (*cap)->server();
    auto slot = (*cap)->check();
    if (slot)
      out.slot = *slot;
    else if (slot.error().code == errc::unavailable)
      out.unreachable = slot.error().message;
    else
      return slot.error();
  } else if (cap.error().code == errc::unavailable) {
    out.unreachable = cap.error().message;
  } else {
    return cap.error();
  }
  return out;
}

result<slot_info> capture::check() {
  auto* pg = conn_->pg;
  auto level = query(pg, who_, "SHOW wal_level", {}, "reading wal_level");
  if (!level)
    return level.error();
  if (auto v = (*level)->at(0, 0); v != "logical")
    return fail(errc::config,
                who_ + ": wal_level is '" + v
                    + "'; change capture needs 'logical' (ALTER SYSTEM SET "
                      "wal_level = logical; then restart PostgreSQL)");
  auto role = query(pg, who_,
                    "SELECT current_user, rolreplication OR rolsuper FROM "
                    "pg_roles WHERE rolname = current_user",
                    {}, "reading the role");
  if (!role)
    return role.error();
  if ((*role)->rows() != 1 || (*role)->at(0, 1) != "t")
    return fail(errc::config,
                who_ + ": role '" + (*role)->at(0, 0)
                    + "' may not use replication slots (ALTER ROLE "
                    + (*role)->at(0, 0) + " REPLICATION;)");
  for (auto& t : spec_.tables) {
    auto info =
        query(pg, who_,
              "SELECT c.oid IS NOT NULL, "
              "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
              "i.indisprimary), has_table_privilege(c.oid, 'SELECT') "
              "FROM (SELECT to_regclass($1)::oid AS oid) c",
              {t}, "reading table " + t);
    if (!info)
      return info.error();
    if ((*info)->null(0, 0) || (*info)->at(0, 0) != "t")
      return fail(errc::config,
                  who_ + ": table " + t + " does not exist in " + server_);
    if ((*info)->at(0, 1) != "t")
      return fail(errc::config,
                  who_ + ": table " + t
                      + " has no primary key: a change's key is its primary "
                        "key (ALTER TABLE "
                      + t + " ADD PRIMARY KEY (...))");
    if (spec_.snapshot && (*info)->at(0, 2) != "t")
      return fail(errc::config, who_ + ": role '" + (*role)->at(0, 0)
                                    + "' may not read table " + t
                                    + " for the snapshot (GRANT SELECT ON " + t
                                    + " TO " + (*role)->at(0, 0) + ";)");
  }
  auto slot = query(pg, who_,
                    "SELECT plugin, database = current_database(), "
                    "confirmed_flush_lsn::text FROM pg_replication_slots "
                    "WHERE slot_name = $1",
                    {spec_.slot}, "reading slot " + spec_.slot);
  if (!slot)
    return slot.error();
  slot_info out;
  if ((*slot)->rows() == 0) {
    if (!spec_.create_slot)
      return fail(errc::config,
                  who_ + ": replication slot '" + spec_.slot
                      + "' does not exist (create it: SELECT "
                        "pg_create_logical_replication_slot('"
                      + spec_.slot
                      + "', 'wal2json'); or set create_slot: true)");
    if (auto allowed = plugin_allowed(pg, who_, spec_.slot, false); !allowed)
      return allowed.error();
    return out;
  }
  if ((*slot)->at(0, 0) != "wal2json")
    return fail(errc::config, who_ + ": slot '" + spec_.slot
                                  + "' decodes with '" + (*slot)->at(0, 0)
                                  + "', not wal2json (use another slot)");
  if ((*slot)->at(0, 1) != "t")
    return fail(errc::config, who_ + ": slot '" + spec_.slot
                                  + "' belongs to another database");
  if (auto allowed = plugin_allowed(pg, who_, spec_.slot, true); !allowed)
    return allowed.error();
  out.exists = true;
  out.confirmed = parse_lsn((*slot)->at(0, 2)).value_or(0);
  confirmed_ = out.confirmed;
  return out;
}

result<std::uint64_t> capture::create_slot(bool export_snapshot) {
  auto plugin_hint = [&](error e) {
    if (e.message.find("wal2json") != std::string::npos
        && e.message.find("could not access file") != std::string::npos)
      e.message += " (install wal2json on the server: Debian's "
                   "postgresql-15-wal2json)";
    return e;
  };
  if (!export_snapshot) {
    auto r = query(conn_->pg, who_,
                   "SELECT lsn::text FROM pg_create_logical_replication_slot("
                   "$1, 'wal2json')",
                   {spec_.slot}, "creating slot " + spec_.slot);
    if (!r)
      return plugin_hint(r.error());
    confirmed_ = parse_lsn((*r)->at(0, 0)).value_or(0);
    return confirmed_;
  }
  auto rep = open_conn(spec_.connection, true);
  if (!rep || PQstatus(rep.get()) != CONNECTION_OK)
    return fail(errc::unavailable,
                who_ + ": replication connection: "
                    + first_line(rep ? PQerrorMessage(rep.get()) : ""));
  pg_result r(PQexec(rep.get(), ("CREATE_REPLICATION_SLOT " + spec_.slot
                                 + " LOGICAL wal2json EXPORT_SNAPSHOT")
                                    .c_str()));
  if (PQresultStatus(r.r) != PGRES_TUPLES_OK || r.rows() != 1)
    return plugin_hint(error{classify(rep.get(), r.r),
                             who_ + ": creating slot " + spec_.slot + ": "
                                 + first_line(PQerrorMessage(rep.get()))});
  snap_lsn_ = parse_lsn(r.at(0, 1)).value_or(0);
  confirmed_ = snap_lsn_;
  auto snapshot_name = r.at(0, 2);
  auto* pg = conn_->pg;
  if (auto b = run(pg, who_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   "starting the snapshot");
      !b)
    return b.error();
  if (auto s = run(pg, who_, "SET TRANSACTION SNAPSHOT '" + snapshot_name + "'",
                   "taking the slot's snapshot");
      !s)
    return s.error();
  // Our transaction holds the snapshot now; the replication connection may
  // go (kept to the end anyway: it costs nothing and keeps it valid).
  replication_ = std::make_unique<conn>();
  replication_->pg = rep.release();
  snap_table_ = 0;
  snap_index_ = 0;
  snap_cursor_open_ = false;
  return snap_lsn_;
}

result<std::vector<change>> capture::snapshot_rows(std::size_t max) {
  auto* pg = conn_->pg;
  std::vector<change> out;
  while (out.size() < max && snap_table_ < spec_.tables.size()) {
    const auto& table = spec_.tables[snap_table_];
    if (!snap_cursor_open_) {
      auto cols = query(
          pg, who_,
          "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
          "COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY "
          "k(att, n) WHERE k.att = a.attnum), 0) "
          "FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = "
          "a.attrelid AND i.indisprimary WHERE a.attrelid = $1::regclass "
          "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
          {table}, "reading the columns of " + table);
      if (!cols)
        return cols.error();
      snap_names_.clear();
      snap_types_.clear();
      std::vector<std::pair<int, std::size_t>> key_order;
      std::string select;
      for (int i = 0; i < (*cols)->rows(); ++i) {
        snap_names_.push_back((*cols)->at(i, 0));
        snap_types_.push_back((*cols)->at(i, 1));
        if (auto pos = std::stoi((*cols)->at(i, 2)); pos > 0)
          key_order.emplace_back(pos, static_cast<std::size_t>(i));
        char* quoted = PQescapeIdentifier(pg, snap_names_.back().c_str(),
                                          snap_names_.back().size());
        select += (select.empty() ? "" : ", ") + std::string(quoted) + "::text";
        PQfreemem(quoted);
      }
      std::sort(key_order.begin(), key_order.end());
      snap_key_cols_.clear();
      for (auto& [pos, col] : key_order)
        snap_key_cols_.push_back(col);
      if (auto d = run(pg, who_,
                       "DECLARE sluice_snapshot NO SCROLL CURSOR FOR SELECT "
                           + select + " FROM " + table,
                       "reading table " + table);
          !d)
        return d.error();
      snap_cursor_open_ = true;
    }
    auto want = max - out.size();
    auto rows = query(pg, who_,
                      "FETCH " + std::to_string(want) + " FROM sluice_snapshot",
                      {}, "reading table " + table);
    if (!rows)
      return rows.error();
    for (int r = 0; r < (*rows)->rows(); ++r) {
      std::vector<column> cols(snap_names_.size());
      for (std::size_t c = 0; c < cols.size(); ++c) {
        cols[c].name = snap_names_[c];
        cols[c].type = snap_types_[c];
        cols[c].null = (*rows)->null(r, static_cast<int>(c));
        cols[c].text = (*rows)->at(r, static_cast<int>(c));
      }
      std::vector<std::string> key_values;
      for (auto k : snap_key_cols_)
        key_values.push_back(cols[k].text);
      change ch;
      ch.commit_lsn = snap_lsn_;
      ch.index = snap_index_++;
      ch.table = table;
      ch.operation = "snapshot";
      ch.key = row_key(table, key_values);
      ch.payload = row_json(cols);
      out.push_back(std::move(ch));
    }
    if (static_cast<std::size_t>((*rows)->rows()) < want) {
      if (auto c = run(pg, who_, "CLOSE sluice_snapshot", "closing the cursor");
          !c)
        return c.error();
      snap_cursor_open_ = false;
      ++snap_table_;
    }
  }
  if (out.empty() && snap_table_ >= spec_.tables.size() && replication_) {
    if (auto c = run(pg, who_, "COMMIT", "ending the snapshot"); !c)
      return c.error();
    replication_.reset();
  }
  return out;
}

result<void> capture::drop_slot() {
  replication_.reset();
  auto r = query(conn_->pg, who_,
                 "SELECT pg_drop_replication_slot(slot_name) FROM "
                 "pg_replication_slots WHERE slot_name = $1",
                 {spec_.slot}, "dropping slot " + spec_.slot);
  if (!r)
    return r.error();
  return {};
}

result<polled> capture::poll(std::size_t max_changes) {
  auto rows = query(conn_->pg, who_, peek_sql_,
                    {spec_.slot, std::to_string(max_changes)},
                    "reading slot " + spec_.slot);
  if (!rows)
    return rows.error();
  wal2json_decoder dec;
  polled out;
  for (int r = 0; r < (*rows)->rows(); ++r) {
    auto lsn = (*rows)->at(r, 0);
    auto data = (*rows)->at(r, 1);
    if (auto a = dec.add(lsn, data); !a)
      return fail(errc::corrupt, who_ + ": " + a.error().message);
  }
  out.changes = dec.take();
  out.last_commit = dec.last_commit();
  return out;
}

result<void> capture::advance(std::uint64_t lsn) {
  if (lsn <= confirmed_)
    return {};
  auto r =
      query(conn_->pg, who_,
            "SELECT end_lsn::text FROM pg_replication_slot_advance($1, "
            "$2::pg_lsn)",
            {spec_.slot, format_lsn(lsn)}, "confirming " + format_lsn(lsn));
  if (!r)
    return r.error();
  confirmed_ = lsn;
  return {};
}

} // namespace sluice::pg
