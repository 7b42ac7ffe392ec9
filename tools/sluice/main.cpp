// The `sluice` executable: the CLI with the bundled example behaviours.
#include "debian_slices/debian_slices.hpp"
#include "package_trust/package_trust.hpp"
#include "sluice/cli.hpp"

int main(int argc, char** argv) {
  sluice::registry reg;
  if (auto r = sluice::examples::register_package_trust(reg); !r)
    return 1;
  if (auto r = debian_slices::register_debian_slices(reg); !r)
    return 1;
  return sluice::main(argc, argv, reg);
}
