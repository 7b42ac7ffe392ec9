// Protobuf helpers for the cluster's messages.
#include "wire.hpp"

#include "sluice/secret.hpp"

namespace sluice::cluster {

std::string reply_ok() {
  v1::ClusterMessage m;
  m.mutable_reply()->set_ok(true);
  return m.SerializeAsString();
}

std::string reply_error(const error& err) {
  v1::ClusterMessage m;
  m.mutable_reply()->set_ok(false);
  m.mutable_reply()->set_error(err.message);
  m.mutable_reply()->set_code(static_cast<std::uint32_t>(err.code));
  return m.SerializeAsString();
}

error error_of(const v1::Reply& reply) {
  return fail(errc_from_code(reply.code()), reply.error());
}

std::string proof_of(std::string_view secret, std::string_view role,
                     std::string_view nonce, std::string_view name) {
  std::string data;
  data.reserve(role.size() + nonce.size() + name.size() + 2);
  data += role;
  data += '|';
  data += nonce;
  data += '|';
  data += name;
  return hmac_sha256(secret, data);
}

void to_wire(const std::vector<member>& in,
             google::protobuf::RepeatedPtrField<v1::Member>& out) {
  for (auto& m : in) {
    auto* w = out.Add();
    w->set_name(m.name);
    w->set_address(m.address);
    w->set_incarnation(m.incarnation);
    w->set_status(static_cast<std::uint32_t>(m.status));
    w->set_proxy(!m.hosts_shards);
  }
}

std::vector<member>
from_wire(const google::protobuf::RepeatedPtrField<v1::Member>& in) {
  std::vector<member> out;
  for (auto& w : in) {
    if (w.name().empty() || w.status() > 4)
      continue; // malformed: ignored, the sender's next gossip may be better
    out.push_back({w.name(), w.address(), w.incarnation(),
                   static_cast<member_status>(w.status()), !w.proxy()});
  }
  return out;
}

void to_wire(const outbox_origin& in, v1::OutboxOrigin& out) {
  out.set_shard(in.shard);
  out.set_epoch(in.epoch);
  out.set_seq(in.seq);
  out.set_index(in.index);
}

outbox_origin from_wire(const v1::OutboxOrigin& in) {
  return {in.shard(), in.epoch(), in.seq(), in.index()};
}

std::string body_name(const v1::ClusterMessage& m) {
  switch (m.body_case()) {
  case v1::ClusterMessage::kHello:
    return "hello";
  case v1::ClusterMessage::kChallenge:
    return "challenge";
  case v1::ClusterMessage::kProof:
    return "proof";
  case v1::ClusterMessage::kWelcome:
    return "welcome";
  case v1::ClusterMessage::kGossip:
    return "gossip";
  case v1::ClusterMessage::kForward:
    return "forward";
  case v1::ClusterMessage::kForwardAck:
    return "forward-ack";
  case v1::ClusterMessage::kHandoffBegin:
    return "handoff-begin";
  case v1::ClusterMessage::kHandoffChunk:
    return "handoff-chunk";
  case v1::ClusterMessage::kHandoffCommit:
    return "handoff-commit";
  case v1::ClusterMessage::kLeave:
    return "leave";
  case v1::ClusterMessage::kReply:
    return "reply";
  case v1::ClusterMessage::kReplicate:
    return "replicate";
  case v1::ClusterMessage::kReplicateAck:
    return "replicate-ack";
  case v1::ClusterMessage::kReplSnapshot:
    return "repl-snapshot";
  case v1::ClusterMessage::kTopologyCheck:
    return "topology-check";
  case v1::ClusterMessage::kTopologyVerdict:
    return "topology-verdict";
  case v1::ClusterMessage::kFeedRead:
    return "feed-read";
  case v1::ClusterMessage::kFeedData:
    return "feed-data";
  case v1::ClusterMessage::BODY_NOT_SET:
    break;
  }
  return "empty";
}

} // namespace sluice::cluster
