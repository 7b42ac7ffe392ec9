// A gRPC change-feed reader for bench/feed_bench.sh, the counterpart of
// its curl reader: calls Feeds.Subscribe (protocols/sluice/v1/feed.proto)
// with no cursor and reads batches until SNAPSHOT_END, decoding each
// message and touching nothing else. Prints the events received and the
// milliseconds from the call to SNAPSHOT_END. Only a gRPC client: no
// Sluice code, so it measures the node from outside like any client.
//
// usage: bench_feed_grpc HOST:PORT STAGE [--raw]
//   --raw: SubscribeRequest.raw_state (states as stored, no JSON)
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string_view>

#include "sluice/v1/feed.grpc.pb.h"

int main(int argc, char** argv) {
  bool raw = argc == 4 && std::string_view(argv[3]) == "--raw";
  if (argc != 3 && !raw) {
    std::fprintf(stderr, "usage: %s HOST:PORT STAGE [--raw]\n", argv[0]);
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  auto stub = sluice::v1::Feeds::NewStub(grpc::CreateCustomChannel(
      argv[1], grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  sluice::v1::SubscribeRequest req;
  req.set_stage(argv[2]);
  req.set_raw_state(raw);
  auto t0 = std::chrono::steady_clock::now();
  auto reader = stub->Subscribe(&ctx, req);
  sluice::v1::FeedBatch batch;
  std::size_t events = 0, bytes = 0;
  bool ended = false;
  while (!ended && reader->Read(&batch)) {
    for (const auto& e : batch.events()) {
      ++events;
      bytes += e.state_json().size() + e.state().size();
      if (e.kind() == sluice::v1::FeedEvent::SNAPSHOT_END)
        ended = true;
    }
  }
  auto ms = std::chrono::duration<double, std::milli>(
                std::chrono::steady_clock::now() - t0)
                .count();
  ctx.TryCancel();
  auto st = reader->Finish();
  if (!ended) {
    std::fprintf(stderr, "the stream ended before snapshot_end: %s\n",
                 st.error_message().c_str());
    return 1;
  }
  std::printf("%zu events %.0f ms %zu state bytes\n", events, ms, bytes);
  return 0;
}
