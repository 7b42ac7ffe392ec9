// Registering the debian_slices behaviours.
#include "debian_slices/debian_slices.hpp"
#include "index_behaviour.hpp"
#include "slice_job.hpp"

namespace debian_slices {

sluice::result<void> register_debian_slices(sluice::registry& reg) {
  if (auto r = reg.add<index_behaviour>(index_name); !r)
    return r;
  return reg.add<slice_job>(job_name);
}

} // namespace debian_slices
