// A progress bar on stderr for long work: items done, rate, ETA, and an
// optional status text. Redraws in place on a terminal; otherwise prints a
// line every few seconds (so CI logs stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace seedtune {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  void Update(int64_t done, const std::string& status = "");
  void Finish(const std::string& status = "");

 private:
  void Draw(bool final_line);
  std::string label_, unit_, status_;
  int64_t total_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace seedtune
