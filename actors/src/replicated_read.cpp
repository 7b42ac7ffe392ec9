// node::await_replicated: an on-demand answer of a replicated member waits
// until what it read of a key's shard is below the shard's high-watermark
// (the store actor's replication gate holds it like a commit's answer).
// Safe from any thread: the caller's thread never becomes an actor.
#include <caf/event_based_actor.hpp>

#include <future>
#include <memory>

#include "messages.hpp"
#include "node_impl.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/placement.hpp"

namespace sluice {

result<void> node::await_replicated(const std::string& key,
                                    std::chrono::milliseconds timeout) {
  auto& p = *impl_;
  if (p.stopped)
    return fail(errc::unavailable, "the node is stopped");
  if (!p.st->replicated())
    return {};
  auto shard = shard_of(key);
  // Read after the caller's read: the seq covers every commit it saw.
  auto pos = p.st->replog_position(shard);
  if (!pos)
    return pos.error();
  if (!*pos)
    return {}; // not owned here: nothing of it is answered from here
  auto seq = (*pos)->seq;
  auto what = "shard " + std::to_string(shard) + " (key '" + key + "')";
  auto done = std::make_shared<std::promise<result<void>>>();
  auto answer = done->get_future();
  // A small actor asks the store actor, so no caller's thread becomes one
  // (see caller_pool.hpp); it always answers, by the timeout at the latest.
  // The shard is passed as the actor's argument, not captured: CAF 0.17
  // binds a null argument tuple for a spawn without arguments (UBSan).
  p.sys->spawn(
      [done, store = p.store_actor, seq, timeout,
       what](caf::event_based_actor* self, std::uint32_t shard) {
        self->request<caf::message_priority::high>(
                store, timeout, msg::replicated_read_atom::value, shard, seq)
            .then(
                [done] { done->set_value(result<void>{}); },
                [done, timeout, what](caf::error& err) {
                  if (err == caf::sec::request_timeout) {
                    done->set_value(fail(
                        errc::unavailable,
                        what + ": its data is not yet held by min_insync "
                            + "replicas after "
                            + std::to_string(timeout.count())
                            + " ms (too few replicas in sync): not answered"));
                    return;
                  }
                  auto e = from_caf_error(err);
                  done->set_value(fail(e.code, what + ": " + e.message));
                });
      },
      shard);
  // The actor answers by its timeout; the margin covers a stopping system.
  if (answer.wait_for(timeout + std::chrono::seconds(2))
      != std::future_status::ready)
    return fail(errc::unavailable, what + ": no answer from the store");
  return answer.get();
}

} // namespace sluice
