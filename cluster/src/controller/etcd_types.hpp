// The values exchanged with etcd's v3 API: key-values, ranges, compares,
// transactions, watch events, leases. Plain values with no I/O; safe to copy
// between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::cluster {

/// One key-value as etcd stores it. Keys and values are raw bytes.
struct etcd_kv {
  std::string key;
  std::string value;
  /// The revision that created the key (since its last deletion).
  std::int64_t create_revision = 0;
  /// The revision of the key's last change.
  std::int64_t mod_revision = 0;
  /// Changes since creation: 1 for a new key.
  std::int64_t version = 0;
  /// The lease the key is attached to, 0 for none.
  std::int64_t lease = 0;

  bool operator==(const etcd_kv&) const = default;
};

/// What a range read found: the keys in order, and the store's revision
/// when it was read (the header's), which a watch can start after.
struct etcd_range {
  std::int64_t revision = 0;
  std::vector<etcd_kv> kvs;
};

/// A granted lease.
struct etcd_lease {
  std::int64_t id = 0;
  /// The TTL etcd granted (it may raise a small one).
  std::chrono::seconds ttl{0};
};

/// One condition of a transaction: `key`'s `target` compared with a value.
/// A missing key has 0 for every revision and its version, and any compare
/// of its value fails (etcd's rule).
struct etcd_compare {
  enum class target { value, mod_revision, create_revision, version };
  enum class relation { equal, not_equal, greater, less };

  std::string key;
  target what = target::mod_revision;
  relation is = relation::equal;
  /// Compared when `what == target::value`.
  std::string value;
  /// Compared for the revisions and the version.
  std::int64_t number = 0;

  /// `key`'s mod_revision equals `revision` (0: the key does not exist).
  static etcd_compare mod_revision_is(std::string key, std::int64_t revision) {
    return {
        std::move(key), target::mod_revision, relation::equal, {}, revision};
  }
  /// `key` has never been created (or was deleted).
  static etcd_compare missing(std::string key) {
    return {std::move(key), target::create_revision, relation::equal, {}, 0};
  }
};

/// One operation of a transaction branch.
struct etcd_op {
  enum class kind { put, erase, range };

  kind what = kind::range;
  std::string key;
  /// For a put.
  std::string value;
  /// For a put: the lease to attach, 0 for none.
  std::int64_t lease = 0;
  /// For erase and range: every key starting with `key`.
  bool prefix = false;

  static etcd_op put(std::string key, std::string value,
                     std::int64_t lease = 0) {
    return {kind::put, std::move(key), std::move(value), lease, false};
  }
  static etcd_op erase(std::string key) {
    return {kind::erase, std::move(key), {}, 0, false};
  }
  static etcd_op range(std::string key, bool prefix = false) {
    return {kind::range, std::move(key), {}, 0, prefix};
  }
};

/// A transaction: if every compare holds, `success` runs, else `failure`;
/// atomically. etcd refuses more than 128 operations in any one of the
/// three lists by default (`--max-txn-ops`).
struct etcd_txn {
  std::vector<etcd_compare> compare;
  std::vector<etcd_op> success;
  std::vector<etcd_op> failure;
};

/// What a transaction did.
struct etcd_txn_result {
  /// True when every compare held and `success` ran.
  bool succeeded = false;
  /// The store's revision after the transaction.
  std::int64_t revision = 0;
  /// The ranges of the branch that ran, one per range operation, in order.
  std::vector<etcd_range> ranges;
};

/// One change a watch saw.
struct etcd_event {
  enum class kind { put, erase };
  kind what = kind::put;
  /// For an erase, only `key` and `mod_revision` (the deletion's) are set.
  etcd_kv kv;
};

} // namespace sluice::cluster
