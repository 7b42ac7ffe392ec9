// Private: the progress line of `sluice run` and its final summary.
#pragma once

#include <chrono>
#include <ostream>

#include "sluice/node.hpp"

namespace sluice::cli {

class progress {
public:
  /// `tty`: redraw one line in place; otherwise print a line now and then.
  progress(std::ostream& out, bool tty);

  void update(const node_stats& s);
  void finish(const node_stats& s, const std::string& data_dir);

private:
  std::ostream& out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  bool final_ = false;
};

} // namespace sluice::cli
