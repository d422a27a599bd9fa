#include "support/processes.hpp"

#include "support/ensemble.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace zkt {
namespace {

using Clock = std::chrono::steady_clock;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name); // NOLINT(concurrency-mt-unsafe): tests set no variables
  return v != nullptr && *v != '\0' ? v : fallback;
}

} // namespace

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(buf, static_cast<std::size_t>(n));
}

std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

std::vector<std::string> peer(const std::string& name, const char* env,
                              const std::vector<std::string>& args) {
  // Peers are in <build>/bin/; test binaries in <build>/tests/<kind>/.
  const std::string exe = self_exe();
  const std::string build = exe.substr(0, exe.rfind("/tests/"));
  return with({env_or(env, build + "/bin/" + name)}, args);
}

std::vector<std::string> python_peer(const std::string& script,
                                     const std::vector<std::string>& args) {
  return with({"/usr/bin/python3", std::string(ZKR_SOURCE_DIR) + "/tests/interop/" + script}, args);
}

Child::Child(const std::vector<std::string>& argv) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = ::posix_spawnp(&m_pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  m_in = in[1];
  m_out = out[0];
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
}

Child::~Child() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
  }
  if (m_in >= 0) ::close(m_in);
  if (m_out >= 0) ::close(m_out);
}

bool Child::read_line(std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto nl = m_buffer.find('\n');
    if (nl != std::string::npos) {
      line = m_buffer.substr(0, nl);
      m_buffer.erase(0, nl + 1);
      return true;
    }
    if (m_eof) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{m_out, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), INT_MAX)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(m_out, buf, sizeof buf);
    if (n <= 0)
      m_eof = true;
    else
      m_buffer.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::wait_for(const std::string& prefix, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (read_line(line,
                   std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())))
    if (line.compare(0, prefix.size(), prefix) == 0) return line;
  return {};
}

std::vector<std::string> Child::read_all(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> lines;
  std::string line;
  while (read_line(line,
                   std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())))
    lines.push_back(line);
  return lines;
}

void Child::write_line(const std::string& line) {
  const std::string data = line + "\n";
  if (::write(m_in, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw std::runtime_error("write to child failed");
}

void Child::kill(int signal) {
  if (m_pid > 0) ::kill(m_pid, signal);
}

int Child::wait(std::chrono::milliseconds timeout) {
  if (m_pid <= 0) return -1;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
    if (r == m_pid) {
      m_pid = -1;
      return status;
    }
    if (Clock::now() >= deadline) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
      return -1;
    }
    // A child's exit has no event we can wait on here without a SIGCHLD handler.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void sync(zk::Session& s, const std::string& path) {
  const auto parent = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
  s.sync(parent); // the parent, which exists more often; the path need not
}

std::optional<std::string> data_of(zk::Session& s, const std::string& path) {
  sync(s, path);
  auto node = s.get(path);
  return node ? std::optional<std::string>(std::move(node->data)) : std::nullopt;
}

std::vector<std::string> children(zk::Session& s, const std::string& path) {
  sync(s, path);
  auto kids = s.children(path);
  return kids ? kids->names : std::vector<std::string>{};
}

std::size_t watches_under(const std::string& prefix) {
  std::size_t n = 0;
  for (int s = 1; s <= 3; ++s) {
    std::istringstream in(four_letter(server_address(s), "wchp"));
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] == '/')
        inside = line.rfind(prefix, 0) == 0;
      else if (inside && line.find("0x") != std::string::npos)
        ++n;
    }
  }
  return n;
}

std::size_t ephemerals_under(const std::string& prefix) {
  for (int s = 1; s <= 3; ++s) {
    if (four_letter(server_address(s), "srvr").find("Mode: leader") == std::string::npos) continue;
    std::istringstream in(four_letter(server_address(s), "dump"));
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      const auto start = line.find_first_not_of(" \t");
      if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) ++n;
    }
    return n;
  }
  throw std::runtime_error("no leader found for `dump`");
}

} // namespace zkt
