// FaultProxy: one poll() thread; connections are cut into ZooKeeper frames so faults act on whole
// frames. Only the loop thread touches sockets (closing an fd another thread polls is a race), so
// controls that close sockets run as commands on the loop and wait for it; the rest flip flags
// under the mutex, which the loop holds whenever it is not inside poll().
#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace zkt {
namespace {

using Clock = std::chrono::steady_clock;
// A larger "length" means the bytes are not ZooKeeper framing.
constexpr std::size_t kMaxFrame = 64u << 20;
// Stop reading a peer while this much waits to be written to the other (back-pressure).
constexpr std::size_t kHighWater = 8u << 20;
constexpr std::size_t kReadChunk = 64u << 10;

std::uint64_t be(const std::string& b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}
std::int32_t be32(const std::string& b, std::size_t at) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(be(b, at, 4)));
}
std::int64_t be64(const std::string& b, std::size_t at) {
  return static_cast<std::int64_t>(be(b, at, 8));
}

sockaddr_in parse_host(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument("FaultProxy: no port in " + host_port);
  const std::string host = host_port.substr(0, colon);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  if (host == "localhost")
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  else if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
    throw std::invalid_argument("FaultProxy: not a numeric IPv4 address: " + host);
  return a;
}

void close_fd(int& fd, bool rst) {
  if (fd < 0) return;
  if (rst) { // SO_LINGER 0: close() sends RST and discards unsent data
    const linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  fd = -1;
}

void no_delay(int fd) { // the proxy must not add Nagle latency to timing-sensitive tests
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

struct Frame {
  Clock::time_point release;
  std::string bytes;
  bool reset = false; // marker: reset the connection here (after a dropped reply)
  DroppedReply drop{};
};

// One direction of a connection.
struct Flow {
  std::string in;          // read, not yet a whole frame
  std::deque<Frame> queue; // whole frames waiting for their release time (delay)
  std::string out;         // released, not yet written
  std::size_t queued_bytes = 0;
  bool handshake_seen = false; // the first frame each way is the connect handshake, no header
  bool raw = false;            // not ZooKeeper framing: forward bytes as they come
  bool eof = false;            // the source closed its side
  bool stopped = false;        // a reply was dropped: nothing more from this source
  [[nodiscard]] std::size_t pending() const { return queued_bytes + out.size(); }
};

struct Conn {
  std::size_t server = 0;
  int client = -1;
  int upstream = -1;
  bool connecting = true;
  Flow up;                                               // client → server
  Flow down;                                             // server → client
  std::unordered_map<std::int32_t, std::int32_t> marked; // xid → op type whose reply to drop
  bool dead = false;
};

struct Listener {
  sockaddr_in upstream{};
  std::uint16_t port = 0;
  int fd = -1;
  std::array<std::chrono::milliseconds, 2> delay{}; // by Direction
  bool blackhole = false;
};

int open_listener(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("FaultProxy: socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  // SO_REUSEADDR: refuse(false) listens again on the same port while old connections linger.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("FaultProxy: listen on 127.0.0.1:" + std::to_string(port) + ": " +
                             why);
  }
  port = ntohs(a.sin_port);
  return fd;
}

} // namespace

class FaultProxy::Impl {
public:
  explicit Impl(const std::string& hosts) {
    std::size_t start = 0;
    while (start <= hosts.size()) {
      const auto comma = std::min(hosts.find(',', start), hosts.size());
      if (comma > start) {
        Listener l;
        l.upstream = parse_host(hosts.substr(start, comma - start));
        listeners.push_back(l);
      }
      start = comma + 1;
    }
    if (listeners.empty()) throw std::invalid_argument("FaultProxy: no upstream hosts");
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) throw std::runtime_error("FaultProxy: eventfd failed");
    try {
      for (auto& l : listeners)
        l.fd = open_listener(l.port);
    } catch (...) {
      for (auto& l : listeners)
        close_fd(l.fd, false);
      ::close(wake_fd);
      throw;
    }
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(m);
      stopping = true;
    }
    wake();
    thread.join();
    for (auto& c : conns)
      abort(*c, false, false);
    for (auto& l : listeners)
      close_fd(l.fd, false);
    ::close(wake_fd);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void wake() const {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);
  }

  // Runs fn on the loop thread (which owns the sockets) and returns its result.
  std::size_t run(std::function<std::size_t()> fn) {
    std::unique_lock<std::mutex> lock(m);
    if (stopping) throw std::logic_error("FaultProxy is stopping");
    std::size_t result = 0;
    std::exception_ptr error;
    const std::uint64_t ticket = ++posted;
    commands.emplace_back([&] {
      try {
        result = fn();
      } catch (...) {
        error = std::current_exception();
      }
    });
    wake();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return done >= ticket; }))
      throw std::runtime_error("FaultProxy: the loop did not run a command within 10 s");
    if (error) std::rethrow_exception(error);
    return result;
  }

  template <class F> void for_each(int server, F&& fn) {
    if (server != all && (server < 0 || static_cast<std::size_t>(server) >= listeners.size()))
      throw std::out_of_range("FaultProxy: no server " + std::to_string(server));
    for (std::size_t i = 0; i < listeners.size(); ++i)
      if (server == all || static_cast<std::size_t>(server) == i) fn(i, listeners[i]);
  }

  // Ends a connection; `rst` sends a reset to both peers. `counted`: a fault did it (statistics).
  void abort(Conn& c, bool rst, bool counted) {
    if (c.dead) return;
    close_fd(c.client, rst);
    close_fd(c.upstream, rst);
    c.dead = true;
    if (counted) ++stats.reset;
    for (const auto& entry : c.marked) // requests that never got their reply give their count back
      if (entry.second == armed_type) ++armed_count;
    c.marked.clear();
  }

  mutable std::mutex m;
  mutable std::condition_variable cv; // commands done, replies dropped
  std::vector<Listener> listeners;
  std::vector<std::unique_ptr<Conn>> conns;
  std::deque<std::function<void()>> commands;
  std::uint64_t posted = 0, done = 0;
  std::int32_t armed_type = 0;
  int armed_count = 0;
  std::vector<DroppedReply> drops;
  ProxyStats stats;
  bool stopping = false;
  int wake_fd = -1;
  std::thread thread;

private:
  struct Slot {
    Conn* conn;           // null: a listener
    std::size_t listener; // for listeners
    bool client_side;
  };

  Flow& flow(Conn& c, Direction d) { return d == Direction::to_server ? c.up : c.down; }

  Clock::time_point release_at(const Flow& f, std::chrono::milliseconds delay) const {
    const auto at = Clock::now() + delay;
    return f.queue.empty() ? at : std::max(at, f.queue.back().release); // never reorder
  }

  void on_frame(Conn& c, Direction dir, std::string frame) {
    Flow& f = flow(c, dir);
    const Listener& l = listeners[c.server];
    const bool handshake = !f.handshake_seen;
    f.handshake_seen = true;
    if (!handshake && !f.raw) {
      // Request header: xid, type. Reply header: xid, zxid, err.
      if (dir == Direction::to_server && frame.size() >= 12 && armed_count > 0 &&
          be32(frame, 8) == armed_type) {
        c.marked[be32(frame, 4)] = armed_type;
        --armed_count;
      } else if (dir == Direction::to_client && frame.size() >= 20) {
        const auto it = c.marked.find(be32(frame, 4));
        if (it != c.marked.end()) {
          Frame marker{
              release_at(f, l.delay[1]),
              {},
              true,
              DroppedReply{c.server, it->second, it->first, be64(frame, 8), be32(frame, 16)}};
          c.marked.erase(it);
          f.stopped = true; // later replies would only confuse the client before the reset
          f.in.clear();
          f.queue.push_back(std::move(marker));
          return;
        }
      }
    }
    if (l.blackhole) {
      ++stats.frames_blackholed;
      return;
    }
    f.queued_bytes += frame.size();
    const auto at = release_at(f, l.delay[dir == Direction::to_server ? 0 : 1]);
    f.queue.push_back(Frame{at, std::move(frame), false, {}});
  }

  void split_frames(Conn& c, Direction dir) {
    Flow& f = flow(c, dir);
    while (!f.in.empty() && !c.dead && !f.stopped) {
      std::size_t take = f.in.size();
      if (!f.raw) {
        if (f.in.size() < 4) return;
        const std::int32_t len = be32(f.in, 0);
        if (len < 0 || static_cast<std::size_t>(len) > kMaxFrame) {
          f.raw = true;
        } else {
          take = 4 + static_cast<std::size_t>(len);
          if (f.in.size() < take) return;
        }
      }
      std::string frame = f.in.substr(0, take);
      f.in.erase(0, take);
      on_frame(c, dir, std::move(frame));
    }
  }

  void read_side(Conn& c, bool client_side) {
    const int fd = client_side ? c.client : c.upstream;
    Flow& f = client_side ? c.up : c.down;
    std::array<char, kReadChunk> buf{};
    for (int i = 0; i < 4; ++i) { // bounded: other connections get their turn
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n > 0) {
        f.in.append(buf.data(), static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0)
        f.eof = true;
      else if (errno == EINTR)
        continue;
      else if (errno != EAGAIN && errno != EWOULDBLOCK)
        return abort(c, true, false); // pass a reset on
      break;
    }
    split_frames(c, client_side ? Direction::to_server : Direction::to_client);
  }

  void pump(Conn& c, Clock::time_point now) {
    for (const bool up : {true, false}) {
      if (c.dead) return;
      Flow& f = up ? c.up : c.down;
      const bool blackholed = listeners[c.server].blackhole;
      while (!f.queue.empty() && f.queue.front().release <= now && !f.queue.front().reset) {
        Frame& fr = f.queue.front();
        f.queued_bytes -= fr.bytes.size();
        if (blackholed)
          ++stats.frames_blackholed; // delayed before the black hole began
        else {
          f.out += fr.bytes;
          ++stats.frames_forwarded;
        }
        f.queue.pop_front();
      }
      const int fd = up ? c.upstream : c.client;
      while (!f.out.empty() && !(up && c.connecting)) {
        const ssize_t n = ::send(fd, f.out.data(), f.out.size(), MSG_NOSIGNAL);
        if (n > 0)
          f.out.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno == EINTR)
          continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        else
          return abort(c, true, false);
      }
      if (!f.queue.empty() && f.queue.front().reset && f.queue.front().release <= now &&
          f.out.empty()) {
        drops.push_back(f.queue.front().drop);
        ++stats.replies_dropped;
        abort(c, true, true);
        cv.notify_all();
        return;
      }
      if (f.eof && f.queue.empty() && f.out.empty()) return abort(c, false, false); // peer closed
    }
  }

  void accept_from(std::size_t i) {
    Listener& l = listeners[i];
    for (int k = 0; k < 16; ++k) {
      int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      auto c = std::make_unique<Conn>();
      c->server = i;
      c->client = fd;
      c->upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      no_delay(fd);
      no_delay(c->upstream);
      const int rc = c->upstream < 0
                         ? -1
                         : ::connect(c->upstream, reinterpret_cast<const sockaddr*>(&l.upstream),
                                     sizeof l.upstream);
      if (rc != 0 && errno != EINPROGRESS) { // no server: the client sees its connection reset
        abort(*c, true, false);
        continue;
      }
      c->connecting = rc != 0;
      ++stats.accepted;
      conns.push_back(std::move(c));
    }
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<Slot> slots;
    std::unique_lock<std::mutex> lock(m);
    while (!stopping) {
      while (!commands.empty()) {
        auto fn = std::move(commands.front());
        commands.pop_front();
        fn();
        ++done;
      }
      cv.notify_all();
      const auto now = Clock::now();
      for (auto& c : conns)
        pump(*c, now);
      conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead; }),
                  conns.end());

      fds.assign(1, pollfd{wake_fd, POLLIN, 0});
      slots.assign(1, Slot{nullptr, 0, false});
      for (std::size_t i = 0; i < listeners.size(); ++i) // black hole: leave them in the backlog
        if (listeners[i].fd >= 0 && !listeners[i].blackhole) {
          fds.push_back(pollfd{listeners[i].fd, POLLIN, 0});
          slots.push_back(Slot{nullptr, i, false});
        }
      auto wake_at = now + std::chrono::seconds(1);
      for (auto& c : conns) {
        short ev = 0;
        if (!c->up.eof && c->up.pending() < kHighWater) ev |= POLLIN;
        if (!c->down.out.empty()) ev |= POLLOUT;
        if (ev != 0) {
          fds.push_back(pollfd{c->client, ev, 0});
          slots.push_back(Slot{c.get(), 0, true});
        }
        ev = c->connecting ? POLLOUT : 0;
        if (!c->connecting && !c->down.eof && !c->down.stopped && c->down.pending() < kHighWater)
          ev |= POLLIN;
        if (!c->connecting && !c->up.out.empty()) ev |= POLLOUT;
        if (ev != 0) {
          fds.push_back(pollfd{c->upstream, ev, 0});
          slots.push_back(Slot{c.get(), 0, false});
        }
        for (const Flow* f : {&c->up, &c->down}) // a due head is a reset waiting for POLLOUT
          if (!f->queue.empty() && f->queue.front().release > now)
            wake_at = std::min(wake_at, f->queue.front().release);
      }
      const auto wait_us =
          std::chrono::duration_cast<std::chrono::microseconds>(wake_at - now).count();
      const int timeout = static_cast<int>((std::max<long long>(wait_us, 0) + 999) / 1000);

      lock.unlock();
      ::poll(fds.data(), fds.size(), timeout);
      lock.lock();

      for (std::size_t k = 0; k < fds.size(); ++k) {
        const short re = fds[k].revents;
        if (re == 0) continue;
        if (k == 0) {
          std::uint64_t drained = 0;
          [[maybe_unused]] const auto n = ::read(wake_fd, &drained, sizeof drained);
          continue;
        }
        Conn* c = slots[k].conn;
        if (c == nullptr) {
          if (listeners[slots[k].listener].fd == fds[k].fd) accept_from(slots[k].listener);
          continue;
        }
        if (c->dead) continue;
        if (!slots[k].client_side && c->connecting) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0)
            abort(*c, true, false); // the server refused: reset the client too
          else
            c->connecting = false;
          continue;
        }
        if ((re & (POLLIN | POLLHUP | POLLERR)) != 0) read_side(*c, slots[k].client_side);
      }
    }
  }
};

FaultProxy::FaultProxy(const std::string& upstream_hosts)
    : m_impl(std::make_unique<Impl>(upstream_hosts)) {}
FaultProxy::~FaultProxy() = default;

std::string FaultProxy::connect_string() const {
  std::string out;
  for (std::size_t i = 0; i < size(); ++i)
    out += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(port(i));
  return out;
}

std::uint16_t FaultProxy::port(std::size_t server) const {
  std::lock_guard<std::mutex> lock(m_impl->m);
  return m_impl->listeners.at(server).port;
}

// The listener list is fixed after construction: no lock needed.
std::size_t FaultProxy::size() const {
  return m_impl->listeners.size();
}

void FaultProxy::delay(Direction dir, std::chrono::milliseconds d, int server) {
  std::lock_guard<std::mutex> lock(m_impl->m);
  m_impl->for_each(
      server, [&](std::size_t, Listener& l) { l.delay[dir == Direction::to_server ? 0 : 1] = d; });
  m_impl->wake();
}

void FaultProxy::blackhole(bool on, int server) {
  std::lock_guard<std::mutex> lock(m_impl->m);
  m_impl->for_each(server, [&](std::size_t, Listener& l) { l.blackhole = on; });
  m_impl->wake();
}

void FaultProxy::refuse(bool on, int server) {
  m_impl->run([this, on, server] {
    m_impl->for_each(server, [&](std::size_t, Listener& l) {
      if (on)
        close_fd(l.fd, false);
      else if (l.fd < 0)
        l.fd = open_listener(l.port);
    });
    return std::size_t{0};
  });
}

std::size_t FaultProxy::reset_all(int server) {
  return m_impl->run([this, server] {
    std::size_t n = 0;
    m_impl->for_each(server, [&](std::size_t i, Listener&) {
      for (auto& c : m_impl->conns)
        if (c->server == i && !c->dead) {
          m_impl->abort(*c, true, true);
          ++n;
        }
    });
    return n;
  });
}

void FaultProxy::drop_reply_after_apply(std::int32_t op_type, int count) {
  std::lock_guard<std::mutex> lock(m_impl->m);
  m_impl->armed_type = op_type;
  m_impl->armed_count = std::max(count, 0);
}

void FaultProxy::cancel_drops() {
  drop_reply_after_apply(0, 0);
}

std::vector<DroppedReply> FaultProxy::dropped() const {
  std::lock_guard<std::mutex> lock(m_impl->m);
  return m_impl->drops;
}

bool FaultProxy::wait_for_drops(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(m_impl->m);
  return m_impl->cv.wait_for(lock, timeout, [&] { return m_impl->drops.size() >= n; });
}

ProxyStats FaultProxy::stats() const {
  std::lock_guard<std::mutex> lock(m_impl->m);
  return m_impl->stats;
}

std::size_t FaultProxy::connections(int server) const {
  std::lock_guard<std::mutex> lock(m_impl->m);
  std::size_t n = 0;
  for (const auto& c : m_impl->conns)
    if (!c->dead && (server == all || c->server == static_cast<std::size_t>(server))) ++n;
  return n;
}

} // namespace zkt
