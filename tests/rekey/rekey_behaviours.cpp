// The re-keying test pipeline's behaviours (see the header).
#include "rekey_behaviours.hpp"

#include <algorithm>
#include <cstdio>

namespace rekey {

std::string bucket_of(const std::string& key) {
  char out[16];
  std::snprintf(out, sizeof out, "bucket/%02u",
                static_cast<unsigned>(sluice::content_hash(key) % buckets));
  return out;
}

void route_behaviour::on_event(sluice::context& ctx, const sluice::event& ev,
                               Routed& r) {
  r.set_events(r.events() + 1);
  r.set_bucket(bucket_of(ctx.key()));
  sluice::event out;
  out.key = r.bucket();
  out.payload = ctx.key();
  (void)ev;
  ctx.emit("bucketed", std::move(out));
}

void tally_behaviour::on_event(sluice::context& ctx, const sluice::event& ev,
                               BucketTally& t) {
  if (ev.payload.empty())
    throw sluice::permanent_error(ev.id + ": no package key in the payload");
  t.set_events(t.events() + 1);
  auto* keys = t.mutable_keys();
  auto at = std::lower_bound(keys->begin(), keys->end(), ev.payload);
  if (at != keys->end() && *at == ev.payload) {
    t.set_repeated_keys(t.repeated_keys() + 1);
    t.add_repeats(ev.payload + " " + ev.id);
    ctx.count("repeated_keys");
    return;
  }
  // Appended, then rotated into its sorted place.
  auto i = at - keys->begin();
  keys->Add(std::string(ev.payload));
  std::rotate(keys->begin() + i, keys->end() - 1, keys->end());
}

} // namespace rekey
