// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The Python doc's motivating example: a cache of large images by name that does not keep them
// alive. Entries disappear when the last user of an image lets it go.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>
import weakref;

struct Image {
  std::string name;
  std::vector<unsigned char> pixels;
};

class ImageCache {
public:
  std::shared_ptr<Image> load(const std::string& name) {
    if (auto cached = cache_.get(name)) return cached; // still alive somewhere: reuse it
    auto image = weakref::make_shared<Image>(name, std::vector<unsigned char>(1 << 20));
    std::printf("decoding %s\n", name.c_str());
    cache_[name] = image;
    return image;
  }
  std::size_t size() const { return cache_.size(); }

private:
  weakref::weak_value_map<std::string, Image> cache_;
};

int main() {
  ImageCache cache;
  auto logo = cache.load("logo.png");
  auto again = cache.load("logo.png"); // no second decode
  auto photo = cache.load("photo.jpg");
  std::printf("cached: %zu\n", cache.size());
  photo.reset();
  std::printf("cached: %zu\n", cache.size());
  std::printf("same image: %s\n", logo == again ? "yes" : "no");
}
