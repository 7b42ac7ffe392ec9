// Private: the join handshake between two members, in which both sides
// prove they know the cluster secret (never sent). The client side runs
// from the heartbeat (`connect`); the server side answers `hello` and
// `proof` requests. Called on the cluster actor only.
#pragma once

#include <caf/node_id.hpp>

#include <string>

#include "cluster_state.hpp"

namespace sluice::cluster {

/// Client side: connects to the member at `address`, says hello, checks
/// its proof, sends ours and, once welcomed, merges its member table. A
/// refusal before this member joined makes it give up; an answer that the
/// member is in no cluster yet is recorded for the seeds and asked again.
/// What each attempt to reach a seed gave goes to seeds.cpp.
void connect(cluster_actor* self, const std::string& address);

/// Server side: a hello from CAF node `from`. Answers with our proof and a
/// nonce for theirs (a serialized ClusterMessage), or a Reply{error}.
std::string on_hello(cluster_actor* self, const caf::node_id& from,
                     const v1::Hello& h);

/// Server side: the client's proof. Trusts its node and answers with a
/// welcome (the member table), or refuses loudly. A member in no cluster
/// yet answers `not_joined` instead (and tries to join through the
/// client).
std::string on_proof(cluster_actor* self, const caf::node_id& from,
                     const v1::Proof& pr);

} // namespace sluice::cluster
