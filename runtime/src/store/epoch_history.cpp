// A shard's epoch history (see the header): its encoding, the promotion's
// update and the receiver's question "did this record survive here?".
#include "epoch_history.hpp"

#include <algorithm>

#include "cluster_db.hpp"

namespace sluice {

std::string encode_epoch_history(const epoch_history& h) {
  std::string out;
  out.reserve(16 * h.size());
  for (auto& [epoch, last] : h) {
    keys::put_u64(out, epoch);
    keys::put_u64(out, last);
  }
  return out;
}

std::optional<epoch_history> parse_epoch_history(std::string_view v) {
  if (v.size() % 16 != 0)
    return std::nullopt;
  epoch_history h;
  for (std::size_t at = 0; at < v.size(); at += 16) {
    auto epoch = keys::get_u64(v, at);
    auto last = keys::get_u64(v, at + 8);
    if (!epoch || !last || (!h.empty() && h.back().first >= *epoch))
      return std::nullopt;
    h.emplace_back(*epoch, *last);
  }
  return h;
}

epoch_history with_ended_epoch(epoch_history h, std::uint64_t epoch,
                               std::uint64_t last) {
  std::erase_if(h, [&](auto& e) { return e.first >= epoch; });
  h.emplace_back(epoch, last);
  if (h.size() > epoch_history_max)
    h.erase(h.begin(),
            h.begin()
                + static_cast<std::ptrdiff_t>(h.size() - epoch_history_max));
  return h;
}

bool survived(const epoch_history& h, const repl_position& at) {
  auto i = std::find_if(h.begin(), h.end(),
                        [&](auto& e) { return e.first == at.epoch; });
  return i != h.end() && at.seq <= i->second;
}

result<epoch_history> read_epoch_history(MDB_txn* t, const store::impl& p,
                                         std::uint32_t shard) {
  auto k = inbox_key(shard, priority::urgent, epoch_history_name());
  MDB_val kv = as_val(k), v;
  int rc = db_get(t, p.inbox, &kv, &v);
  if (rc == MDB_NOTFOUND)
    return epoch_history{};
  if (rc != 0)
    return lmdb_error(rc, p.opts.dir + ": read the epoch history of shard "
                              + std::to_string(shard));
  return parse_epoch_history(as_view(v)).value_or(epoch_history{});
}

} // namespace sluice
