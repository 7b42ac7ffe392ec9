// node::admin: the console's entry on a node. A command's arguments are
// checked (bad usage), then it runs in admin/ (a failure); both are error
// values, turned here into the answer's code and line. Called from the
// admin actor's own thread or an embedder's; `admin_mtx` guards what the
// calls share.
#include "sluice/admin.hpp"
#include "admin/session.hpp"

namespace sluice {

admin_answer node::admin(const std::string& command,
                         const std::vector<std::string>& args) {
  auto& p = *impl_;
  admin_answer a;
  if (p.stopped) {
    a.code = admin_code::failed;
    a.error = "the node is stopped";
    return a;
  }
  // The cluster answers what only it knows (members, shard owners).
  if (p.extension_started)
    if (auto theirs = p.extension->admin(command, args))
      return *theirs;
  try {
    a = p.callers->run([&] {
      std::lock_guard<std::mutex> guard{p.admin_mtx};
      admin_answer out;
      if (auto usage = node_admin::check_usage(command, args); !usage) {
        out.code = admin_code::bad_usage;
        out.error = usage.error().message;
        return out;
      }
      auto r = node_admin::session{p, *this}.run(command, args);
      if (!r) {
        out.code = admin_code::failed;
        out.error = r.error().message;
        return out;
      }
      out.json = r->dump();
      return out;
    });
  } catch (const caller_pool::stopped&) {
    a.code = admin_code::failed;
    a.error = "the node is stopping";
  } catch (const std::exception& e) {
    // Not control flow: a bug or a library's surprise (JSON, protobuf).
    a.code = admin_code::failed;
    a.error = command + ": " + e.what();
  }
  return a;
}

} // namespace sluice
