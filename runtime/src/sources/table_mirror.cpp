// "sluice.table": a key's state is its row's last content.
#include "sluice/table_mirror.hpp"

#include "sluice/behaviour.hpp"
#include "sluice/stage_settings.hpp"

namespace sluice {

namespace {

class table_mirror final : public behaviour {
public:
  result<void> configure(const stage_settings& s) override {
    if (auto ok = s.only({"topic"}); !ok)
      return ok;
    auto topic = s.text("topic", "");
    if (!topic)
      return topic.error();
    topic_ = std::move(*topic);
    return {};
  }

  void on_event(context& ctx, const event& ev) override {
    auto op = ev.attributes.find("operation");
    if (op == ev.attributes.end())
      throw permanent_error("sluice.table takes a source's events: this one "
                            "has no 'operation' attribute");
    const auto& what = op->second;
    event out = ev;
    if (what == "insert" || what == "update" || what == "snapshot") {
      ctx.set_state(ev.payload);
    } else if (what == "delete") {
      out.payload = ctx.state();
      ctx.clear_state();
    } else {
      throw permanent_error("sluice.table: unknown operation '" + what
                            + "' (expected insert, update, delete or "
                              "snapshot)");
    }
    if (!topic_.empty()) {
      out.id.clear(); // derived from this event's
      ctx.emit(topic_, std::move(out));
    }
  }

  bool reconcile(context& ctx) override {
    if (topic_.empty() || !ctx.has_state())
      return true; // no output, or a deleted row: nothing to send again
    event out;
    out.payload = ctx.state();
    out.attributes["operation"] = "snapshot";
    ctx.emit(topic_, std::move(out));
    return true;
  }

  std::string state_to_json(const std::string& state) const override {
    return state; // the row, already a JSON object
  }

private:
  std::string topic_;
};

} // namespace

result<void> add_table_mirror(registry& reg) {
  return reg.add(std::string(table_mirror_name),
                 [] { return std::make_unique<table_mirror>(); });
}

} // namespace sluice
