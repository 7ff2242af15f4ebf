// The dashboard's static files (web/ and Chart.js from Debian's libjs-chart.js), compiled into
// the binary at build time (cmake/EmbedAssets.cmake), so that `pdm serve` needs no file beside it.
#ifndef PDM_WEB_ASSETS_H_
#define PDM_WEB_ASSETS_H_

#include <span>
#include <string_view>

namespace pdm::web {

struct Asset {
  std::string_view path;          // the URL path it is served at, e.g. "/ui/app.js"
  std::string_view content_type;  // from the file's extension
  std::string_view bytes;
};

// Every embedded file, in build order.
std::span<const Asset> Assets();

// The asset served at `path`, or null.
const Asset* FindAsset(std::string_view path);

}  // namespace pdm::web

#endif  // PDM_WEB_ASSETS_H_
