// The same behaviour as a plugin: `sluice run --plugin libtally_plugin.so`.
#include "sluice/plugin.hpp"
#include "tally_behaviour.hpp"

SLUICE_PLUGIN(reg) {
  return static_cast<bool>(
      reg.add<tally::sum_behaviour>(tally::sum_behaviour::name));
}
