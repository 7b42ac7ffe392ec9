// debian_slices_chunk: Debian Packages indexes as JSON lines for `sluice
// run --feed` (one event per chunk of stanzas, keyed by the tenant), with
// only the fields the index stage reads, so a chunk stays far below the
// payload limit. Each event's attributes say the file and the line its
// chunk starts at, so a problem in it is named where it is.
//
//   debian_slices_chunk --tenant bookworm/amd64 [--per 1500] FILE... > f.jsonl
//
// A chunk holds at most --per stanzas and about 700 KB, so that its JSON
// line stays under the feed's 1 MiB line limit.
// FILE may be - (standard input). Exit 2 on bad usage or an unreadable
// file, naming it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace {

const std::set<std::string, std::less<>> kept_fields = {
    "Package",     "Version",    "Architecture",   "Maintainer",
    "Section",     "Source",     "Installed-Size", "Depends",
    "Pre-Depends", "Recommends", "Provides"};

int usage(const std::string& why) {
  std::cerr << "debian_slices_chunk: " << why
            << "\nusage: debian_slices_chunk --tenant SUITE/ARCH [--per N] "
               "FILE... (- for standard input)\n";
  return 2;
}

struct chunker {
  std::string tenant;
  std::size_t per = 1500;
  std::size_t max_bytes = 700'000; // before JSON escaping
  std::string chunk;               // the stanzas so far
  std::size_t stanzas = 0;         // in chunk
  std::size_t first = 0;           // line of chunk's first stanza
  std::size_t events = 0;

  void flush(const std::string& source) {
    if (chunk.empty())
      return;
    nlohmann::json j{
        {"key", tenant},
        {"payload", chunk},
        {"attributes", {{"source", source}, {"line", std::to_string(first)}}}};
    std::cout << j.dump() << '\n';
    chunk.clear();
    stanzas = 0;
    ++events;
  }

  void read(std::istream& in, const std::string& source) {
    std::string line, stanza;
    std::size_t no = 0, start = 0;
    bool keep = false; // the current field is kept (for continuations)
    auto end_stanza = [&] {
      if (stanza.empty())
        return;
      if (!chunk.empty() && chunk.size() + stanza.size() + 1 > max_bytes)
        flush(source);
      if (chunk.empty())
        first = start;
      chunk += stanza + "\n";
      stanza.clear();
      if (++stanzas >= per)
        flush(source);
    };
    while (std::getline(in, line)) {
      ++no;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) {
        end_stanza();
        continue;
      }
      if (stanza.empty())
        start = no;
      if (line[0] == ' ' || line[0] == '\t') {
        if (keep)
          stanza += line + "\n";
        continue;
      }
      auto colon = line.find(':');
      // A line that is not a field is kept: the index stage names it.
      keep = colon == std::string::npos
             || kept_fields.count(std::string_view(line).substr(0, colon)) > 0;
      if (keep)
        stanza += line + "\n";
    }
    end_stanza();
    flush(source);
  }
};

} // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  chunker c;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--tenant" || a == "--per") && i + 1 < argc) {
      std::string v = argv[++i];
      if (a == "--tenant") {
        c.tenant = v;
      } else {
        char* end = nullptr;
        c.per = std::strtoul(v.c_str(), &end, 10);
        if (*end != '\0' || c.per == 0 || c.per > 100000)
          return usage("--per: expected a number in [1, 100000], got '" + v
                       + "'");
      }
    } else if (a.size() > 1 && a[0] == '-') {
      return usage("unknown option '" + a + "'");
    } else {
      files.push_back(a);
    }
  }
  if (c.tenant.empty())
    return usage("--tenant is required");
  if (files.empty())
    return usage("no file given");
  for (auto& f : files) {
    if (f == "-") {
      c.read(std::cin, "stdin");
      continue;
    }
    std::ifstream in(f);
    if (!in)
      return usage("cannot read '" + f + "'");
    c.read(in, std::filesystem::path(f).filename().string());
  }
  std::cerr << "debian_slices_chunk: " << c.events << " events for " << c.tenant
            << "\n";
  return std::cout ? 0 : 1;
}
