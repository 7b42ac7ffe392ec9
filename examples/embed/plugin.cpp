// The same behaviour and actor stage as a plugin for any `sluice` binary:
// `sluice --plugin libtally_plugin.so run ...`.
#include "sluice/plugin.hpp"
#include "register.hpp"

SLUICE_PLUGIN(reg) {
  return tally::register_all(reg);
}
