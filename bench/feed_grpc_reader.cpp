// A gRPC change-feed reader for bench/feed_bench.sh, the counterpart of
// its curl and Python readers. Only a gRPC client from the generated stubs
// (protocols/sluice/v1/feed.proto): no Sluice code, so it measures the node
// from outside like any client.
//
// usage: bench_feed_grpc HOST:PORT STAGE [--raw] [--lag N]
//   Cold start (default): Subscribe with no cursor, read batches until
//   SNAPSHOT_END decoding each message, print the events and the
//   milliseconds from the call.
//   --lag N: follow until N CHANGE events have arrived (reconnecting with
//   the last cursor when the stream breaks, e.g. while the node restarts),
//   and print the lag of each from its commit (`ts_ns`) to its arrival:
//   p50, p99, max.
//   --raw: SubscribeRequest.raw_state (states as stored, no JSON).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/v1/feed.grpc.pb.h"

namespace {

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int cold_start(sluice::v1::Feeds::Stub& stub,
               const sluice::v1::SubscribeRequest& req) {
  grpc::ClientContext ctx;
  auto t0 = std::chrono::steady_clock::now();
  auto reader = stub.Subscribe(&ctx, req);
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

int lag(
    const std::function<std::unique_ptr<sluice::v1::Feeds::Stub>()>& connect,
    sluice::v1::SubscribeRequest req, std::size_t want) {
  auto stub = connect();
  std::vector<double> lags;
  lags.reserve(std::min<std::size_t>(want, 1u << 20));
  while (lags.size() < want) {
    grpc::ClientContext ctx;
    auto reader = stub->Subscribe(&ctx, req);
    sluice::v1::FeedBatch batch;
    while (lags.size() < want && reader->Read(&batch)) {
      auto now = wall_ns();
      for (const auto& e : batch.events()) {
        if (!e.cursor().empty())
          req.set_cursor(e.cursor());
        if (e.kind() == sluice::v1::FeedEvent::CHANGE && lags.size() < want)
          lags.push_back(static_cast<double>(now - e.ts_ns()) / 1e6);
      }
    }
    ctx.TryCancel();
    reader->Finish();
    if (lags.size() < want) {
      // A fresh channel connects at once; the old one would wait for its
      // own reconnection backoff.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      stub = connect();
    }
  }
  std::sort(lags.begin(), lags.end());
  auto q = [&](double p) {
    return lags[std::min(lags.size() - 1,
                         static_cast<std::size_t>(p * lags.size()))];
  };
  std::printf("%zu changes: lag p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              lags.size(), q(0.5), q(0.99), lags.back());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  bool raw = false;
  std::size_t want = 0;
  for (int i = 3; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--raw")
      raw = true;
    else if (a == "--lag" && i + 1 < argc)
      want = std::strtoull(argv[++i], nullptr, 10);
    else
      argc = 0; // a usage error
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_feed_grpc HOST:PORT STAGE [--raw] "
                         "[--lag N]\n");
    return 2;
  }
  std::string target = argv[1];
  auto connect = [&target] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
    return sluice::v1::Feeds::NewStub(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
  };
  sluice::v1::SubscribeRequest req;
  req.set_stage(argv[2]);
  req.set_raw_state(raw);
  return want > 0 ? lag(connect, req, want) : cold_start(*connect(), req);
}
