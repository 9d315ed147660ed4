#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace seedtune {

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_ && done_ > 0) Finish();
}

void ProgressBar::Update(int64_t done, const std::string& status) {
  done_ = done;
  status_ = status;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if ((tty_ && since >= 0.1) || (!tty_ && since >= 5.0)) {
    last_draw_ = now;
    Draw(false);
  }
}

void ProgressBar::Finish(const std::string& status) {
  if (!status.empty()) status_ = status;
  finished_ = true;
  Draw(true);
}

void ProgressBar::Draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 0.0;
  std::string eta = "--";
  if (rate > 0 && total_ > 0) {
    const int secs = static_cast<int>((total_ - done_) / rate);
    eta = fmt::format("{}:{:02d}", secs / 60, secs % 60);
  }
  const int width = 24, filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::string line = fmt::format("{} [{}] {}/{} {:.1f} {}/s ETA {} {}", label_, bar, done_, total_, rate, unit_,
                                 final_line ? "0:00" : eta, status_);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace seedtune
