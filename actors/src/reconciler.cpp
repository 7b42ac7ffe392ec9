// Periodic scan for stuck keys; re-drives go to the store actor as one
// batch and are re-checked in its transaction.
#include "reconciler.hpp"

#include <caf/event_based_actor.hpp>

#include "messages.hpp"
#include "sluice/caf_error.hpp"
#include "sluice/reconcile.hpp"

namespace sluice {

namespace {

using scan_atom = caf::atom_constant<caf::atom("scan")>;

caf::behavior reconciler(caf::event_based_actor* self, node_env env,
                         caf::actor store) {
  auto log = env.logger("reconciler");
  auto& m = *env.metrics;
  auto* scans = &m.get_counter("sluice_reconciler_scans_total", {},
                               "Reconciler scans of key status");
  auto* stuck = &m.get_counter("sluice_reconciler_stuck_total", {},
                               "Stuck keys found (their event was lost)");
  auto* unrecoverable = &m.get_counter(
      "sluice_reconciler_unrecoverable_total", {},
      "Stuck keys with no upstream stage to re-derive their event");
  auto every = env.plan->topo().reconcile_every;
  self->delayed_send(self, every, scan_atom::value);
  return {
      [=](scan_atom) {
        scans->add();
        auto scan = scan_for_stuck_keys(*env.st, *env.plan, now_ns());
        if (!scan) {
          log->error("scan failed: {}", scan.error().describe());
        } else {
          stuck->add(scan->stuck);
          unrecoverable->add(scan->unrecoverable);
          if (scan->stuck > 0)
            log->warn("{} of {} keys are stuck; re-driving {}", scan->stuck,
                      scan->keys, scan->redrives.size());
          for (auto& k : scan->unrecoverable_keys)
            log->error("key {} is stuck and has no upstream stage to "
                       "re-derive its event; it needs a new input",
                       k);
          if (!scan->redrives.empty()) {
            write_batch b;
            b.redrives = std::move(scan->redrives);
            self->request(store, caf::infinite, msg::append_atom::value,
                          std::move(b))
                .then([] {},
                      [log](caf::error& e) {
                        log->error("re-drive commit failed: {}",
                                   describe_error(e));
                      });
          }
        }
        self->delayed_send(self, every, scan_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_reconciler(caf::event_based_actor* parent, node_env env,
                            caf::actor store_actor) {
  return parent->spawn<caf::linked + caf::detached>(reconciler, env,
                                                    std::move(store_actor));
}

} // namespace sluice
