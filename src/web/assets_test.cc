#include "web/assets.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pdm::web {
namespace {

TEST(AssetsTest, TheDashboardAndChartJsAreEmbeddedWithTheirTypes) {
  const Asset* index = FindAsset("/ui/index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->bytes.find("<!doctype html>"), std::string_view::npos);
  const Asset* chart = FindAsset("/ui/vendor/chart.min.js");
  ASSERT_NE(chart, nullptr);
  EXPECT_EQ(chart->content_type, "text/javascript; charset=utf-8");
  EXPECT_GT(chart->bytes.size(), 100'000u);
  EXPECT_EQ(FindAsset("/ui/none.js"), nullptr);
  std::set<std::string_view> paths;
  for (const Asset& a : Assets()) {
    EXPECT_TRUE(a.path.starts_with("/ui/")) << a.path;
    EXPECT_TRUE(paths.insert(a.path).second) << "served twice: " << a.path;
    EXPECT_FALSE(a.bytes.empty()) << a.path;
  }
}

// No CDN: every URL in our files is this server's (the SVG namespace is a name, not a fetch).
TEST(AssetsTest, NoPageLoadsAnythingFromAnotherOrigin) {
  constexpr std::string_view kSvgNamespace = "http://www.w3.org/2000/svg";
  for (const Asset& a : Assets()) {
    if (a.path.starts_with("/ui/vendor/")) continue;
    for (size_t at = a.bytes.find("http"); at != std::string_view::npos;
         at = a.bytes.find("http", at + 1)) {
      const std::string_view rest = a.bytes.substr(at);
      if (!rest.starts_with("http://") && !rest.starts_with("https://")) continue;
      EXPECT_TRUE(rest.starts_with(kSvgNamespace)) << a.path << ": " << rest.substr(0, 60);
    }
  }
}

}  // namespace
}  // namespace pdm::web
