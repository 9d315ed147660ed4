#include "core/assets.h"

#include <cstdlib>
#include <filesystem>

namespace seedtune {

std::vector<std::string> AssetRoots() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("SEEDTUNE_ASSETS"); env != nullptr && *env != '\0') candidates.emplace_back(env);
  candidates.emplace_back("assets");
  candidates.emplace_back("../shared/assets");
#ifdef SEEDTUNE_SOURCE_DIR
  // Tests run from the build tree: also look relative to the source checkout.
  candidates.emplace_back(std::string(SEEDTUNE_SOURCE_DIR) + "/assets");
  candidates.emplace_back(std::string(SEEDTUNE_SOURCE_DIR) + "/../shared/assets");
#endif
  std::vector<std::string> roots;
  std::error_code ec;
  for (const auto& c : candidates) {
    if (fs::is_directory(c, ec)) roots.push_back(c);
  }
  return roots;
}

std::optional<std::string> FindAsset(const std::string& relative) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& root : AssetRoots()) {
    fs::path p = fs::path(root) / relative;
    if (fs::exists(p, ec)) return p.string();
  }
  return std::nullopt;
}

}  // namespace seedtune
