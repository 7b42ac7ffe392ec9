// The team's own binary: the full `sluice` command line (run, export, dlq,
// ...) with the team's behaviour registered.
#include "sluice/cli.hpp"
#include "tally_behaviour.hpp"

int main(int argc, char** argv) {
  sluice::registry reg;
  if (!reg.add<tally::sum_behaviour>(tally::sum_behaviour::name))
    return 1;
  return sluice::main(argc, argv, reg);
}
