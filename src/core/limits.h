// Bounds shared by the command line and the libraries behind it.
#pragma once

namespace seedtune {

// The longest timeout or interval any option accepts, in seconds (11.6
// days). A deadline further out overflows the steady clock it is added to,
// and a wait that never ends is a hang, not a setting.
inline constexpr double kMaxTimeoutSeconds = 1e6;

// Whether `s` is a usable timeout: finite, > 0, at most kMaxTimeoutSeconds
// (NaN fails every comparison).
inline bool IsValidTimeout(double s) { return s > 0.0 && s <= kMaxTimeoutSeconds; }

}  // namespace seedtune
