// The team's own binary: the full `sluice` command line (run, export, dlq,
// ...) with the team's behaviour and actor stage registered.
#include "register.hpp"
#include "sluice/cli.hpp"

int main(int argc, char** argv) {
  sluice::registry reg;
  if (!tally::register_all(reg))
    return 1;
  return sluice::main(argc, argv, reg);
}
