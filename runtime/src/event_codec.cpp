// sluice::event <-> sluice.v1.Event.
#include "sluice/event_codec.hpp"

#include "sluice/v1/event.pb.h"

namespace sluice {

std::string encode_event(const event& ev) {
  v1::Event pb;
  pb.set_id(ev.id);
  pb.set_topic(ev.topic);
  pb.set_key(ev.key);
  pb.set_tenant(ev.tenant);
  pb.set_priority(ev.priority == priority::urgent ? v1::PRIORITY_URGENT
                                                  : v1::PRIORITY_NORMAL);
  for (auto& [k, v] : ev.attributes)
    (*pb.mutable_attributes())[k] = v;
  pb.set_payload(ev.payload);
  pb.set_content_hash(ev.content_hash);
  pb.set_attempt(ev.attempt);
  pb.set_origin_ts_ns(ev.origin_ts_ns);
  pb.set_ingest_ts_ns(ev.ingest_ts_ns);
  pb.set_reconcile(ev.reconcile);
  pb.set_refresh(ev.refresh);
  pb.set_timer(ev.timer);
  return pb.SerializeAsString();
}

namespace {

event from_pb(v1::Event& pb) {
  event ev;
  ev.id = std::move(*pb.mutable_id());
  ev.topic = std::move(*pb.mutable_topic());
  ev.key = std::move(*pb.mutable_key());
  ev.tenant = std::move(*pb.mutable_tenant());
  ev.priority = pb.priority() == v1::PRIORITY_URGENT ? priority::urgent
                                                     : priority::normal;
  for (auto& [k, v] : pb.attributes())
    ev.attributes.emplace(k, v);
  ev.payload = std::move(*pb.mutable_payload());
  ev.content_hash = pb.content_hash();
  ev.attempt = pb.attempt();
  ev.origin_ts_ns = pb.origin_ts_ns();
  ev.ingest_ts_ns = pb.ingest_ts_ns();
  ev.reconcile = pb.reconcile();
  ev.refresh = pb.refresh();
  ev.timer = std::move(*pb.mutable_timer());
  return ev;
}

} // namespace

result<event> decode_event(std::string_view bytes, std::string_view where) {
  v1::Event pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return fail(errc::corrupt, std::string(where) + ": "
                                   + std::to_string(bytes.size())
                                   + " bytes are not a valid sluice.v1.Event");
  return from_pb(pb);
}

result<std::vector<event>> decode_event_batch(std::string_view bytes,
                                              std::string_view where) {
  v1::EventBatch pb;
  if (!pb.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return fail(errc::corrupt,
                std::string(where) + ": " + std::to_string(bytes.size())
                    + " bytes are not a valid sluice.v1.EventBatch");
  std::vector<event> out;
  out.reserve(static_cast<std::size_t>(pb.events_size()));
  for (auto& e : *pb.mutable_events())
    out.push_back(from_pb(e));
  return out;
}

std::string encode_event_batch(const std::vector<event>& events) {
  v1::EventBatch pb;
  for (auto& ev : events)
    pb.add_events()->ParseFromString(encode_event(ev));
  return pb.SerializeAsString();
}

} // namespace sluice
