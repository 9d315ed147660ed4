// Locating third-party assets (models, tokenizers, datasets), which are never
// committed: $SEEDTUNE_ASSETS, then ./assets, then ../shared/assets.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace seedtune {

// The asset roots that exist, in search order.
std::vector<std::string> AssetRoots();

// The first existing `root/relative` over AssetRoots(), or nullopt.
std::optional<std::string> FindAsset(const std::string& relative);

}  // namespace seedtune
