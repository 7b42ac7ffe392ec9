// Dead-letter record construction.
#include "sluice/dead_letter.hpp"

#include "sluice/v1/store.pb.h"

namespace sluice {

std::string dead_letter_record(const std::string& stage, const std::string& key,
                               const std::string& event_bytes,
                               const std::vector<attempt_record>& attempts,
                               bool damaged) {
  v1::DeadLetter dl;
  dl.set_stage(stage);
  dl.set_key(key);
  if (damaged || !dl.mutable_event()->ParseFromString(event_bytes)) {
    dl.clear_event();
    dl.set_raw(event_bytes);
  }
  for (auto& a : attempts) {
    auto* at = dl.add_attempts();
    at->set_attempt(a.attempt);
    at->set_at_ts_ns(a.at_ns);
    at->set_error(a.error);
  }
  return dl.SerializeAsString();
}

std::string raw_dead_letter_record(const std::string& source,
                                   const std::string& raw, std::int64_t at_ns,
                                   const std::string& error) {
  v1::DeadLetter dl;
  dl.set_stage("(ingest)");
  dl.set_source(source);
  dl.set_raw(raw);
  auto* at = dl.add_attempts();
  at->set_attempt(1);
  at->set_at_ts_ns(at_ns);
  at->set_error(error);
  return dl.SerializeAsString();
}

} // namespace sluice
