// libFuzzer target: arbitrary bytes into the event decoder and the store's
// key parsers. Nothing may crash; an event that decodes must survive an
// encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/event_codec.hpp"
#include "sluice/store/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)sluice::keys::parse_queue_key(bytes);
  (void)sluice::keys::parse_state_key(bytes);
  (void)sluice::keys::printable(bytes);
  auto ev = sluice::decode_event(bytes, "fuzz");
  if (!ev) {
    if (ev.error().message.find("fuzz") == std::string::npos)
      __builtin_trap(); // the error must name where the bytes came from
    return 0;
  }
  auto again = sluice::decode_event(sluice::encode_event(*ev), "fuzz");
  if (!again || again->id != ev->id || again->key != ev->key
      || again->payload != ev->payload || again->attributes != ev->attributes
      || again->priority != ev->priority || again->attempt != ev->attempt)
    __builtin_trap();
  return 0;
}
