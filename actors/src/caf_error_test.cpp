// The "sluice" CAF error category: a sluice::error sent as an actor's reply
// arrives with its kind and message, and CAF's own errors map to the kinds
// that caf_error.hpp documents.
#include "sluice/caf_error.hpp"

#include <gtest/gtest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace sluice;

namespace {

using fail_atom = caf::atom_constant<caf::atom("fail")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;

/// Replies to (fail_atom, code, text) with that sluice error; never
/// answers (wait_atom), so the requester's timeout decides. It takes one
/// unused argument: CAF 0.17.6 dereferences a null argument tuple when an
/// actor function takes none (UBSan: "reference binding to null pointer"
/// in init_fun_factory_helper).
caf::behavior failing_actor(int /* unused */) {
  return {
      [](fail_atom, std::uint8_t code,
         const std::string& text) -> caf::result<std::string> {
        return to_caf_error(fail(static_cast<errc>(code), text));
      },
      [](wait_atom) -> caf::result<std::string> {
        return caf::delegated<std::string>{};
      },
  };
}

class CafError : public ::testing::Test {
protected:
  CafError() {
    add_sluice_error_category(cfg_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
  }

  /// The error that a request to `a` comes back with; none on a reply.
  template <class... Ts>
  std::optional<caf::error> request_error(const caf::actor& a,
                                          std::chrono::milliseconds timeout,
                                          Ts... xs) {
    caf::scoped_actor self{*sys_};
    std::optional<caf::error> got;
    self->request(a, timeout, xs...)
        .receive([](std::string&) {}, [&](caf::error& e) { got = e; });
    return got;
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
};

} // namespace

TEST_F(CafError, ASluiceErrorRepliedByAnActorArrivesWithItsKindAndMessage) {
  auto a = sys_->spawn(failing_actor, 0);
  for (auto code : {errc::invalid_argument, errc::config, errc::storage,
                    errc::behaviour, errc::unavailable, errc::no_space}) {
    auto got = request_error(a, std::chrono::seconds(10), fail_atom::value,
                             static_cast<std::uint8_t>(code),
                             std::string("pipeline.yaml:3: bad"));
    ASSERT_TRUE(got.has_value());
    auto back = from_caf_error(*got);
    EXPECT_EQ(back.code, code);
    EXPECT_EQ(back.message, "pipeline.yaml:3: bad");
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_F(CafError, ASluiceErrorSurvivesSerializationAsForARemoteHop) {
  auto sent = to_caf_error(fail(errc::corrupt, "key k: 3 bytes"));
  std::vector<char> buf;
  caf::binary_serializer sink{*sys_, buf};
  ASSERT_FALSE(sink(sent));
  caf::error received;
  caf::binary_deserializer source{*sys_, buf};
  ASSERT_FALSE(source(received));
  auto back = from_caf_error(received);
  EXPECT_EQ(back.code, errc::corrupt);
  EXPECT_EQ(back.message, "key k: 3 bytes");
}

TEST_F(CafError, RendersAsSluiceKindAndMessage) {
  auto e = to_caf_error(fail(errc::config, "stages[1]: unknown behaviour"));
  EXPECT_EQ(sys_->render(e), "sluice:config: stages[1]: unknown behaviour");
  EXPECT_EQ(describe_error(e), "config: stages[1]: unknown behaviour");
}

TEST_F(CafError, ARequestTimeoutIsUnavailableWithCafsRendering) {
  auto a = sys_->spawn(failing_actor, 0);
  auto got = request_error(a, std::chrono::milliseconds(20), wait_atom::value);
  ASSERT_TRUE(got.has_value());
  auto back = from_caf_error(*got);
  EXPECT_EQ(back.code, errc::unavailable);
  EXPECT_EQ(back.message, "system_error(request_timeout)");
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_F(CafError, ARequestToADeadActorIsUnavailable) {
  auto a = sys_->spawn(failing_actor, 0);
  {
    caf::scoped_actor self{*sys_};
    self->send_exit(a, caf::exit_reason::user_shutdown);
    self->wait_for(a);
  }
  auto got = request_error(a, std::chrono::seconds(10), fail_atom::value,
                           std::uint8_t{1}, std::string("x"));
  ASSERT_TRUE(got.has_value());
  auto back = from_caf_error(*got);
  EXPECT_EQ(back.code, errc::unavailable);
  EXPECT_NE(back.message.find("request_receiver_down"), std::string::npos)
      << back.message;
}

TEST_F(CafError, CafsOwnErrorsMapAsDocumented) {
  using caf::sec;
  auto kind = [](sec s) { return from_caf_error(caf::make_error(s)).code; };
  EXPECT_EQ(kind(sec::unexpected_message), errc::invalid_argument);
  EXPECT_EQ(kind(sec::unexpected_response), errc::invalid_argument);
  EXPECT_EQ(kind(sec::invalid_argument), errc::invalid_argument);
  EXPECT_EQ(kind(sec::runtime_error), errc::behaviour);
  EXPECT_EQ(kind(sec::request_timeout), errc::unavailable);
  EXPECT_EQ(kind(sec::request_receiver_down), errc::unavailable);
  EXPECT_EQ(kind(sec::cannot_connect_to_node), errc::unavailable);
  EXPECT_EQ(from_caf_error(caf::error{caf::exit_reason::user_shutdown}).code,
            errc::unavailable);
  // No error at all (e.g. a normal exit): safe to read.
  EXPECT_EQ(describe_error(caf::error{}), "none");
  EXPECT_EQ(from_caf_error(caf::error{}).code, errc::unavailable);
  // An unknown code of the category (a newer peer's kind): unavailable.
  auto odd = from_caf_error(caf::error{200, caf::atom("sluice"),
                                       caf::make_message(std::string("?"))});
  EXPECT_EQ(odd.code, errc::unavailable);
  EXPECT_EQ(odd.message, "?");
}
