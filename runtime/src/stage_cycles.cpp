// The stage graph's cycle check: a depth-first search over "stage A emits a
// topic stage B subscribes to", naming the stages and topics of the first
// cycle found. Pure function.
#include <algorithm>
#include <string>
#include <vector>

#include "topology_loader.hpp"
#include "topology_yaml.hpp"

namespace sluice::topology_yaml {

namespace {

/// Depth-first search over "stage A emits a topic stage B subscribes to".
class cycle_finder {
public:
  explicit cycle_finder(const topology& topo)
      : topo_(topo), state_(topo.stages.size(), state::unseen) {}

  /// "a -> b -> a (via topics t, u)", or empty when the graph is acyclic.
  std::string find() {
    for (std::size_t i = 0; i < topo_.stages.size() && found_.empty(); ++i) {
      if (state_[i] == state::unseen)
        visit(i);
    }
    return found_;
  }

private:
  enum class state { unseen, open, done };

  bool subscribes(std::size_t stage, const std::string& topic) const {
    const auto& subs = topo_.stages[stage].subscribe;
    return std::any_of(subs.begin(), subs.end(),
                       [&](const subscription& s) { return s.topic == topic; });
  }

  void visit(std::size_t i) {
    state_[i] = state::open;
    path_.push_back(i);
    for (const std::string& topic : topo_.stages[i].emits) {
      for (std::size_t j = 0; j < topo_.stages.size() && found_.empty(); ++j) {
        if (!subscribes(j, topic))
          continue;
        if (state_[j] == state::open)
          return report(j, topic);
        via_.push_back(topic);
        if (state_[j] == state::unseen)
          visit(j);
        via_.pop_back();
      }
      if (!found_.empty())
        return;
    }
    path_.pop_back();
    state_[i] = state::done;
  }

  void report(std::size_t back_to, const std::string& last_topic) {
    const auto start =
        std::find(path_.begin(), path_.end(), back_to) - path_.begin();
    std::vector<std::string> names;
    for (auto k = static_cast<std::size_t>(start); k < path_.size(); ++k) {
      names.push_back(topo_.stages[path_[k]].name);
    }
    names.push_back(topo_.stages[back_to].name);
    std::vector<std::string> topics(via_.begin() + start, via_.end());
    topics.push_back(last_topic);
    found_ = join(names, " -> ")
             + (topics.size() == 1 ? " (via topic " : " (via topics ")
             + join(topics, ", ") + ")";
  }

  const topology& topo_;
  std::vector<state> state_;
  std::vector<std::size_t> path_;
  std::vector<std::string> via_;
  std::string found_;
};

} // namespace

std::optional<std::string> find_stage_cycle(const topology& topo) {
  auto found = cycle_finder(topo).find();
  if (found.empty())
    return std::nullopt;
  return found;
}

} // namespace sluice::topology_yaml
