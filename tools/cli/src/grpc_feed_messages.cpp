// A change-feed event and its gRPC message, field by field.
#include "grpc_feed_messages.hpp"

namespace sluice::cli {

namespace {

v1::FeedEvent::Kind kind_message(feed_event_kind k) {
  switch (k) {
  case feed_event_kind::snapshot:
    return v1::FeedEvent::SNAPSHOT;
  case feed_event_kind::snapshot_end:
    return v1::FeedEvent::SNAPSHOT_END;
  case feed_event_kind::change:
    return v1::FeedEvent::CHANGE;
  case feed_event_kind::removed:
    return v1::FeedEvent::REMOVED;
  case feed_event_kind::reset:
    return v1::FeedEvent::RESET;
  case feed_event_kind::progress:
    return v1::FeedEvent::PROGRESS;
  }
  return v1::FeedEvent::KIND_UNSPECIFIED;
}

feed_event_kind kind_of(v1::FeedEvent::Kind k) {
  switch (k) {
  case v1::FeedEvent::SNAPSHOT:
    return feed_event_kind::snapshot;
  case v1::FeedEvent::SNAPSHOT_END:
    return feed_event_kind::snapshot_end;
  case v1::FeedEvent::REMOVED:
    return feed_event_kind::removed;
  case v1::FeedEvent::RESET:
    return feed_event_kind::reset;
  case v1::FeedEvent::PROGRESS:
    return feed_event_kind::progress;
  default:
    return feed_event_kind::change;
  }
}

} // namespace

void to_message(feed_event&& e, v1::FeedEvent& m) {
  m.set_kind(kind_message(e.kind));
  m.set_key(std::move(e.key));
  m.set_state_json(std::move(e.state_json));
  m.set_state(std::move(e.state));
  m.set_event_id(std::move(e.event_id));
  m.set_ts_ns(e.ts_ns);
  m.set_version(e.version);
  m.set_offset(e.offset);
  m.set_shard(e.shard);
  m.set_cursor(std::move(e.cursor));
  m.set_reason(std::move(e.reason));
  m.set_keys(e.keys);
  if (!e.attributes.empty())
    m.mutable_attributes()->insert(e.attributes.begin(), e.attributes.end());
}

feed_event from_message(const v1::FeedEvent& m) {
  feed_event e;
  e.kind = kind_of(m.kind());
  e.key = m.key();
  e.state_json = m.state_json();
  e.state = m.state();
  e.event_id = m.event_id();
  e.ts_ns = m.ts_ns();
  e.version = m.version();
  e.offset = m.offset();
  e.shard = m.shard();
  e.cursor = m.cursor();
  e.reason = m.reason();
  e.keys = m.keys();
  e.attributes.insert(m.attributes().begin(), m.attributes().end());
  return e;
}

} // namespace sluice::cli
