// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Runs part of a test in a child process that then ends the way a program ends (std::exit), so
// that what happens at exit can be observed: the child's stdout and stderr are collected through
// a pipe. POSIX (fork); elsewhere `supported` is false and the tests that need it say so.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#if __has_include(<unistd.h>) && __has_include(<sys/wait.h>)
#include <sys/wait.h>
#include <unistd.h>
#define WEAKREF_CONFORMANCE_HAS_FORK 1
#endif

namespace conformance {

struct child_result {
  bool supported = false;
  bool exited = false; // ended by exit or a return from main, not by a signal
  int exit_code = -1;
  std::string output; // stdout and stderr, interleaved as written
};

// Forks; the child runs body(fd), with fd its stdout, and body ends the child (std::exit).
inline child_result run_in_child(const std::function<void(int fd)>& body) {
  child_result result;
#ifdef WEAKREF_CONFORMANCE_HAS_FORK
  result.supported = true;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return result;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    body(1);
    std::_Exit(97); // body did not end the process
  }
  ::close(pipe_fds[1]);
  char buffer[512];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  }
#else
  (void)body;
#endif
  return result;
}

// Writes text to fd unbuffered: what a finalizer run at exit uses, after stdio may be flushed.
inline void say(int fd, const std::string& text) {
#ifdef WEAKREF_CONFORMANCE_HAS_FORK
  const ssize_t written = ::write(fd, text.data(), text.size());
  (void)written;
#else
  (void)fd;
  (void)text;
#endif
}

} // namespace conformance
