// The console's dead-letter commands: `dlq list|show|redrive|drop`. A
// redrive appends to the stages' queues outside the store actor, so the
// stage supervisors are poked to read on. Used under the node's `admin_mtx`.
#include <caf/send.hpp>

#include "session.hpp"

namespace sluice::node_admin {

command_result session::dlq(const args_t& args) {
  auto& sub = args[0];
  args_t rest(args.begin() + 1, args.end());
  if (sub == "list") {
    auto f = parse_dlq_filter(rest);
    if (!f)
      return f.error();
    auto letters = list_dead_letters(*p_.st, *f);
    if (!letters)
      return passed_on(letters.error());
    json out = json::array();
    for (auto& v : *letters)
      out.push_back(json::parse(to_json(v, false)));
    return json{{"dead_letters", out}};
  }
  if (sub == "show") {
    auto ref = parse_dead_letter_id(rest[0]);
    if (!ref)
      return passed_on(ref.error());
    auto letter = show_dead_letter(*p_.st, *ref);
    if (!letter)
      return passed_on(letter.error());
    return json::parse(to_json(*letter, true));
  }
  // redrive or drop (check_usage let nothing else through)
  std::vector<store::dead_letter_ref> refs;
  if (rest.size() == 1 && rest[0] == "--all") {
    auto letters = list_dead_letters(*p_.st);
    if (!letters)
      return passed_on(letters.error());
    for (auto& v : *letters)
      if (sub == "drop" || v.redrivable)
        refs.push_back(v.ref);
  } else {
    for (auto& id : rest) {
      auto ref = parse_dead_letter_id(id);
      if (!ref)
        return passed_on(ref.error());
      refs.push_back(*ref);
    }
  }
  if (sub == "drop") {
    auto n = p_.st->drop_dead_letters(refs);
    if (!n)
      return passed_on(n.error());
    return json{{"dropped", *n}};
  }
  auto n = p_.st->redrive_dead_letters(refs);
  if (!n)
    return passed_on(n.error());
  caf::anon_send(p_.supervisor, msg::poke_atom::value);
  return json{{"redriven", *n}};
}

} // namespace sluice::node_admin
