// dlopen-based plugin loading.
#include "sluice/plugin.hpp"

#include <dlfcn.h>

#include <filesystem>

namespace sluice {

result<void> load_plugin(const std::string& path, registry& reg) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return fail(errc::not_found, "plugin " + path + ": no such file");
  // A relative name without a slash would make dlopen search the library
  // path instead of this file.
  auto file = std::filesystem::absolute(path, ec).string();
  void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return fail(errc::invalid_argument,
                "plugin " + path + ": cannot load: " + ::dlerror());
  using abi_fn = std::uint32_t (*)();
  using register_fn = bool (*)(registry&);
  auto abi = reinterpret_cast<abi_fn>(::dlsym(h, "sluice_plugin_abi"));
  auto add =
      reinterpret_cast<register_fn>(::dlsym(h, "sluice_plugin_register"));
  if (!abi || !add) {
    ::dlclose(h);
    return fail(errc::invalid_argument,
                "plugin " + path + ": missing symbol "
                    + (abi ? "sluice_plugin_register" : "sluice_plugin_abi")
                    + " (define the entry point with SLUICE_PLUGIN)");
  }
  if (auto v = abi(); v != plugin_abi_version) {
    ::dlclose(h);
    return fail(errc::invalid_argument,
                "plugin " + path + ": built for plugin ABI version "
                    + std::to_string(v) + ", this sluice has version "
                    + std::to_string(plugin_abi_version) + "; rebuild it");
  }
  if (!add(reg))
    return fail(errc::invalid_argument,
                "plugin " + path
                    + ": registration failed (a behaviour name taken twice?)");
  reg.note_plugin(path);
  return {}; // stays loaded: its code runs in key actors
}

} // namespace sluice
