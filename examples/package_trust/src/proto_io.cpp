// Serialisation and JSON helpers for the package_trust behaviours.
#include "proto_io.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <stdexcept>

#include "sluice/behaviour.hpp"

namespace sluice::examples::package_trust {

std::string to_bytes(const google::protobuf::Message& msg) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  return out;
}

void from_bytes(std::string_view bytes, google::protobuf::Message& msg,
                std::string_view what) {
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw sluice::permanent_error(
        std::string(what) + ": bytes do not decode as " + msg.GetTypeName());
  }
}

std::string state_json(const std::string& state,
                       google::protobuf::Message& prototype) {
  if (!prototype.ParseFromString(state)) {
    return "{\"error\":"
           + json_quote("state does not decode as " + prototype.GetTypeName())
           + "}";
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto status =
      google::protobuf::util::MessageToJsonString(prototype, &out, options);
  if (!status.ok()) {
    return "{\"error\":" + json_quote(std::string(status.message())) + "}";
  }
  return out;
}

} // namespace sluice::examples::package_trust
