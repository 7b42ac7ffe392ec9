// The re-keying test pipeline's behaviours as a plugin for any `sluice`
// binary: `sluice --plugin libsluice_rekey_plugin.so node ...`.
#include "sluice/plugin.hpp"
#include "rekey_behaviours.hpp"

SLUICE_PLUGIN(reg) {
  return reg.add<rekey::route_behaviour>(rekey::route_behaviour::name)
         && reg.add<rekey::tally_behaviour>(rekey::tally_behaviour::name);
}
