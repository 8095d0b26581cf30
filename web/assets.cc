#include "web/assets.h"

#include <cstddef>
#include <string>
#include <unordered_map>

namespace spanvault::web {
namespace detail {

struct Entry {
  const char* path;
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
  const char* etag;
};
extern const Entry kEntries[];
extern const std::size_t kEntryCount;

}  // namespace detail

namespace {

using Table = std::unordered_map<std::string_view, Asset>;

const Table& Assets() {
  static const Table table = [] {
    Table t;
    for (std::size_t i = 0; i < detail::kEntryCount; ++i) {
      const detail::Entry& e = detail::kEntries[i];
      t.emplace(e.path, Asset{e.content_type, std::string_view(reinterpret_cast<const char*>(e.data), e.size), e.etag});
    }
    return t;
  }();
  return table;
}

}  // namespace

const Asset* FindAsset(std::string_view path) {
  if (std::size_t cut = path.find_first_of("?#"); cut != std::string_view::npos) path = path.substr(0, cut);
  if (path == "/index.html") path = "/";
  if (path.find("..") != std::string_view::npos) return nullptr;
  const Table& t = Assets();
  auto it = t.find(path);
  return it == t.end() ? nullptr : &it->second;
}

}  // namespace spanvault::web
