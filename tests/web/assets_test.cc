// The explorer's files compiled into the binary (web/assets.h).
#include "web/assets.h"

#include <gtest/gtest.h>

namespace spanvault::web {
namespace {

TEST(WebAssetsTest, RootIsThePage) {
  const Asset* a = FindAsset("/");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->content_type, "text/html; charset=utf-8");
  EXPECT_NE(a->body.find("<!doctype html>"), std::string_view::npos);
  EXPECT_NE(a->body.find("/assets/app.js"), std::string_view::npos);
  EXPECT_EQ(FindAsset("/index.html"), a);
  EXPECT_EQ(FindAsset("/?x=1"), a);
  EXPECT_EQ(FindAsset("/#/traces"), a);
}

TEST(WebAssetsTest, ModulesAndStyles) {
  for (const char* path : {"/assets/app.js", "/assets/api.js", "/assets/list.js", "/assets/trace.js",
                           "/assets/detail.js", "/assets/charts.js", "/assets/session.js", "/assets/dom.js"}) {
    const Asset* a = FindAsset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_EQ(a->content_type, "text/javascript; charset=utf-8") << path;
    EXPECT_FALSE(a->body.empty()) << path;
  }
  const Asset* css = FindAsset("/assets/style.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
}

TEST(WebAssetsTest, EtagsAreQuotedAndDiffer) {
  const Asset* page = FindAsset("/");
  const Asset* app = FindAsset("/assets/app.js");
  ASSERT_NE(page, nullptr);
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(page->etag.front(), '"');
  EXPECT_EQ(page->etag.back(), '"');
  EXPECT_GT(page->etag.size(), 10u);
  EXPECT_NE(page->etag, app->etag);
  EXPECT_EQ(FindAsset("/")->etag, page->etag);  // stable
}

TEST(WebAssetsTest, UnknownPathsAreNull) {
  EXPECT_EQ(FindAsset(""), nullptr);
  EXPECT_EQ(FindAsset("/nope"), nullptr);
  EXPECT_EQ(FindAsset("/assets/"), nullptr);
  EXPECT_EQ(FindAsset("/assets/../index.html"), nullptr);
  EXPECT_EQ(FindAsset("/api/traces"), nullptr);
  EXPECT_EQ(FindAsset("assets/app.js"), nullptr);
}

}  // namespace
}  // namespace spanvault::web
