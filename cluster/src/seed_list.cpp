// The seed list's rules: parsing HOST:PORT, dropping this member's own
// address and repeats, who may start a new cluster, and the line logged
// while a member waits. Pure functions (names resolved by the caller's
// function); thread-safe.
#include "seed_list.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>

namespace sluice::cluster {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return s;
}

/// One entry with what it resolved to.
struct resolved {
  std::string text;
  host_port hp;
  std::set<std::string> ips;
};

bool same_member(const resolved& a, const resolved& b) {
  if (a.hp.port != b.hp.port)
    return false;
  if (lower(a.hp.host) == lower(b.hp.host))
    return true;
  return std::any_of(a.ips.begin(), a.ips.end(),
                     [&b](const std::string& ip) { return b.ips.count(ip); });
}

resolved resolve_one(const std::string& text, host_port hp,
                     const host_resolver& resolve) {
  resolved r{text, std::move(hp), {}};
  if (resolve)
    for (auto& ip : resolve(r.hp.host)) {
      r.ips.insert(ip);
      // An IPv4-mapped IPv6 address reaches the IPv4 socket.
      if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos)
        r.ips.insert(ip.substr(7));
    }
  return r;
}

std::string clock_time(std::chrono::system_clock::time_point t) {
  auto tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S UTC", &tm);
  return buf;
}

long long seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

} // namespace

result<host_port> parse_host_port(std::string_view what,
                                  const std::string& text) {
  auto bad = [&](const std::string& why) {
    return fail(errc::invalid_argument,
                std::string(what) + ": '" + text + "' " + why
                    + " (HOST:PORT, e.g. 127.0.0.1:7401)");
  };
  auto colon = text.rfind(':');
  if (text.empty())
    return bad("is empty");
  if (colon == std::string::npos)
    return bad("has no port");
  auto host = text.substr(0, colon);
  auto port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    return bad("has no host");
  if (host.find_first_of(" \t\n[]/") != std::string::npos)
    return bad("has no valid host");
  if (port.empty() || port.size() > 5
      || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) > 65535)
    return bad("has no port from 1 to 65535");
  auto n = static_cast<std::uint16_t>(std::stoul(port));
  if (n == 0)
    return bad("has port 0, which is no member's address: give the fixed "
               "port it listens on");
  return host_port{std::move(host), n};
}

result<seed_plan> plan_seeds(const std::string& listen,
                             const std::vector<std::string>& seeds,
                             bool hosts_shards, const host_resolver& resolve) {
  auto lhp = parse_host_port("--listen", listen);
  if (!lhp)
    return lhp.error();
  if (lhp->host == "0.0.0.0" || lhp->host == "::")
    return fail(errc::invalid_argument,
                "--listen: '" + listen
                    + "' is no address the other members can reach (it is "
                      "what they are told to connect to); give this "
                      "machine's address, e.g. 127.0.0.1 or its IP");
  auto self = resolve_one(listen, *lhp, resolve);
  seed_plan plan;
  std::vector<resolved> kept;
  bool self_first = false;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    auto hp = parse_host_port("--join", seeds[i]);
    if (!hp)
      return hp.error();
    auto r = resolve_one(seeds[i], *hp, resolve);
    if (same_member(r, self)) {
      if (plan.own.empty())
        plan.own = seeds[i];
      self_first = self_first || (kept.empty() && plan.own == seeds[i]);
      plan.notes.push_back(seeds[i] + " is this member's own address (--listen "
                           + listen + "): skipped");
      continue;
    }
    auto dup = std::find_if(kept.begin(), kept.end(), [&r](const resolved& k) {
      return same_member(k, r);
    });
    if (dup != kept.end()) {
      plan.notes.push_back(seeds[i] + " names the same member as " + dup->text
                           + ": skipped");
      continue;
    }
    kept.push_back(std::move(r));
    plan.others.push_back(seeds[i]);
  }
  if (!hosts_shards) {
    if (plan.others.empty())
      return fail(errc::invalid_argument,
                  seeds.empty()
                      ? "--no-shards needs --join: a proxy cannot start a "
                        "cluster"
                      : "--no-shards: --join names only this member's own "
                        "address ("
                            + plan.own
                            + "); a proxy cannot start a cluster, give the "
                              "address of another member");
    if (self_first)
      return fail(errc::invalid_argument,
                  "--no-shards: the first --join address, " + plan.own
                      + ", is this member's own; only the first seed may "
                        "start a new cluster and a proxy cannot, so list a "
                        "full member first");
    return plan;
  }
  plan.may_form = plan.others.empty() || self_first;
  return plan;
}

bool should_form(const seed_plan& plan, const std::string& own_name,
                 bool holds_shards, const std::vector<seed_state>& seeds,
                 std::chrono::steady_clock::time_point now,
                 std::chrono::milliseconds timeout) {
  if (!plan.may_form)
    return false;
  for (auto& s : seeds) {
    if (s.unformed) {
      if (s.has_shards && !holds_shards)
        return false; // a restarting cluster: a member with data goes first
      if (s.may_form && s.name < own_name)
        return false; // it outranks us: it starts the cluster, we join it
      continue;
    }
    if (now - s.silent_since < timeout)
      return false;
  }
  return true;
}

std::string describe_wait(const seed_plan& plan, bool holds_shards,
                          const std::vector<seed_state>& seeds,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::system_clock::time_point wall_now) {
  std::string out;
  for (auto& s : seeds) {
    if (!out.empty())
      out += "; ";
    out += s.address;
    if (s.unformed) {
      out += " (" + s.name + ") is up but in no cluster either";
      if (s.has_shards)
        out += ", and holds shards";
      continue;
    }
    auto silent = now - s.silent_since;
    auto since =
        wall_now
        - std::chrono::duration_cast<std::chrono::system_clock::duration>(
            silent);
    out += " has not answered for " + std::to_string(seconds(silent))
           + " s (since " + clock_time(since) + ")";
    if (!s.error.empty())
      out += ": " + s.error;
  }
  bool beside_data =
      !holds_shards
      && std::any_of(seeds.begin(), seeds.end(), [](const seed_state& s) {
           return s.unformed && s.has_shards;
         });
  if (plan.may_form && beside_data)
    out += ". This member, the first seed, has a new data directory and "
           "will not start a new cluster beside seeds that hold shards (it "
           "would own every shard too): restart them with one of them first "
           "in --join";
  else if (plan.may_form)
    out += ". This member, the first seed, starts a new cluster once no "
           "other seed is a member of one";
  else if (!plan.others.empty())
    out += ". Only the first seed, " + plan.others.front()
           + ", can start a new cluster; this member joins through any "
             "seed that is a member";
  return out;
}

} // namespace sluice::cluster
