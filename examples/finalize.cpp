// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// weakref::finalize (Python 3.4's weakref.finalize): cleanup that runs when an object dies, that
// the program can run early or cancel, and that runs at exit if the object outlives main.
#include <cstdio>
#include <memory>
#include <string>
import weakref;

struct TempDir {
  std::string path;
};

void remove_tree(const std::string& path) { std::printf("removing %s\n", path.c_str()); }

// Still owned when main returns: its finalizer runs in the exit pass (this owner, constructed
// before the first finalizer, is destroyed only after that pass).
std::shared_ptr<TempDir> session;

int main() {
  auto dir = weakref::make_shared<TempDir>("/tmp/build-1");
  weakref::finalize(dir, remove_tree, dir->path); // no handle kept: it stays registered
  dir.reset();                                    // prints "removing /tmp/build-1"

  auto cache = weakref::make_shared<TempDir>("/tmp/cache");
  weakref::finalize cleanup(cache, remove_tree, cache->path);
  cleanup(); // run it early: prints "removing /tmp/cache"
  std::printf("alive after the call: %s\n", cleanup.alive() ? "yes" : "no");
  cache.reset(); // already dead: nothing more

  auto kept = weakref::make_shared<TempDir>("/tmp/kept");
  weakref::finalize cancel(kept, remove_tree, kept->path);
  if (auto info = cancel.detach()) // cancelled: what it would have run comes back
    std::printf("detached: would have removed %s\n", std::get<0>(info->args).c_str());

  session = weakref::make_shared<TempDir>("/tmp/session");
  weakref::finalize(session, remove_tree, session->path); // at exit: "removing /tmp/session"
  std::printf("main returns\n");
}
