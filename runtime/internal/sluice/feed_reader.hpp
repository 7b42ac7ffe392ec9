// Reads feeds into events: TSV with a header row (npm.tsv, pypi.tsv
// style), Debian package indexes (RFC 822 stanzas) and JSON lines (one
// event object per line), from a file or standard input. Not thread-safe;
// one reader per source.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/event.hpp"
#include "sluice/result.hpp"
#include "sluice/topology.hpp"

namespace sluice {

/// One record read from a feed, or the reason it could not be read.
struct feed_record {
  std::uint64_t line = 0;       ///< 1-based line where the record starts
  std::uint64_t end_offset = 0; ///< byte offset just past the record
  bool ok = true;               ///< false: unreadable, see `error`
  std::string error;            ///< set when !ok: names file, line, field
  std::string raw;              ///< set when !ok: the record's text, if
                                ///< not over the record size cap
  event ev;                     ///< set when ok
};

/// Streams records from a feed file in bounded batches. Resumable at a byte
/// offset that a previous batch returned.
class feed_reader {
public:
  /// The feed formats `open` recognises.
  enum class format {
    tsv,    ///< tab-separated, with a header row that has a `name` column
    debian, ///< Debian package index: RFC 822 stanzas, "Package: ..." first
    jsonl,  ///< one JSON object per line: {"key", "id", "topic", ...}
    lines   ///< raw lines: each line's text the payload of one event
  };

  /// The format named `name` (tsv, debian, jsonl, lines), or nullopt.
  static std::optional<format> format_named(std::string_view name);

  /// `open`'s path for standard input.
  static constexpr const char* standard_input = "-";

  /// How records become events beyond the format's own rules (the
  /// topology's `feed:`).
  struct options {
    std::string topic; ///< the events' topic
    /// The column (TSV), field (Debian) or payload field (JSON lines)
    /// that is the key; empty: the format's own key.
    std::string key;
    /// Columns or fields copied into the attributes.
    std::vector<std::string> attributes;
    /// The format (format_named); empty: sniffed.
    std::string format;
    /// The column or field whose value (urgent or normal) is a record's
    /// priority; empty: none.
    std::string priority;

    /// The topology's `feed:` as reader options.
    static options from(const feed_spec& f) {
      return {f.topic, f.key, f.attributes, f.format, f.priority};
    }
  };

  /// Opens `path` ("-": standard input, named "stdin" in ids and errors),
  /// sniffs the format (a name ending in .jsonl or .ndjson, or a first
  /// line starting with "{", is JSON lines; a first line with tabs is TSV;
  /// a first line "Package: ..." is Debian) and, for TSV, reads the header.
  static result<std::unique_ptr<feed_reader>> open(const std::string& path,
                                                   std::string topic);
  /// As above, with `opts`: a TSV header must have the key column and the
  /// attribute columns (an error names the file and what is missing).
  static result<std::unique_ptr<feed_reader>> open(const std::string& path,
                                                   options opts);

  /// Continues at `offset` (0 or a value from `feed_record::end_offset`).
  /// A pipe (standard input from another process) cannot go anywhere but
  /// where it is: an error.
  result<void> seek(std::uint64_t offset);

  /// False for a pipe: `seek` only to where it is.
  bool seekable() const noexcept { return seekable_; }

  /// Reads up to `max` records. An empty vector means end of file.
  std::vector<feed_record> next(std::size_t max);

  /// The format sniffed by `open`.
  format kind() const noexcept { return kind_; }
  /// The file's size in bytes when it was opened (0 for a pipe).
  std::uint64_t file_size() const noexcept { return size_; }
  /// The path given to `open`.
  const std::string& path() const noexcept { return path_; }

private:
  feed_reader() = default;
  bool next_line(std::string& line);
  feed_record from_tsv(const std::string& line, std::uint64_t lineno);
  feed_record from_stanza(const std::vector<std::string>& lines,
                          std::uint64_t first_line);
  feed_record from_json_line(const std::string& line, std::uint64_t lineno);
  feed_record from_raw_line(const std::string& line, std::uint64_t lineno);
  /// Sets `rec`'s priority from `value` (the priority column's); a value
  /// other than urgent or normal fails the record, naming its line.
  void set_priority(feed_record& rec,
                    const std::optional<std::string>& value) const;
  /// Gives back the line just read: `next_line` returns it again (a pipe
  /// cannot seek back to the record the format was sniffed on).
  void unread(std::string line, std::uint64_t bytes);

  std::string path_;
  std::string name_; ///< in ids and errors: the file's name, or "stdin"
  std::string topic_;
  std::string key_;                     ///< options::key
  std::vector<std::string> attributes_; ///< options::attributes
  std::string priority_;                ///< options::priority
  std::ifstream in_;
  format kind_ = format::tsv;
  std::vector<std::string> columns_;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0; ///< byte offset of the next unread line
  std::uint64_t line_ = 0;   ///< lines consumed so far
  std::uint64_t header_end_ = 0;
  bool seekable_ = true;
  std::optional<std::string> unread_; ///< the line `unread` gave back
  std::uint64_t unread_bytes_ = 0;    ///< its bytes, terminator included
};

} // namespace sluice
