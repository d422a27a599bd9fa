// asio_service: a small TCP service on loopback, run by one io_context thread. Each request takes
// a distributed lock without blocking that thread (zk::asio::async_lock), then, while holding it,
// counts the request in a znode with a fenced write: a multi that checks our lock node and sets the
// count at the version it read (asynchronous calls too). Twenty clients of the same io_context send
// a request at once; the program checks that every count from 1 to 20 was given out exactly once
// and that the fencing tokens never go back.
//
//   ZK_HOSTS=127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181 ./asio_service
#include <zkrecipes/asio.hpp>
#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>

#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include <cstdlib>
#include <iostream>
#include <istream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr int clients = 20;

// One request: lock, read the count, write count + 1 fenced by our lock node, answer, release.
class Request : public std::enable_shared_from_this<Request> {
public:
  Request(tcp::socket socket, zk::Session& session, zk::DistributedLock& lock, std::string count,
          zk::DistributedCounter& served)
      : m_socket(std::move(socket)), m_session(session), m_lock(lock), m_count(std::move(count)),
        m_served(served) {}

  void start() {
    asio::async_read_until(m_socket, m_in, '\n', [self = shared_from_this()](auto ec, auto) {
      if (!ec) self->take_lock();
    });
  }

private:
  void take_lock() {
    zk::asio::async_lock(m_lock, m_socket.get_executor(), 10s,
                         [self = shared_from_this()](std::error_code ec, zk::LockGuard guard) {
                           if (ec) return self->answer("error " + ec.message());
                           self->m_guard = std::move(guard);
                           self->read_count();
                         });
  }
  // Session callbacks run on its callback thread: each continues on the io_context's thread.
  template <class F> auto on_loop(F&& f) {
    return [ex = m_socket.get_executor(), f = std::forward<F>(f)](auto result) mutable {
      asio::post(ex, [f = std::move(f), result = std::move(result)]() mutable { f(result); });
    };
  }
  void read_count() {
    m_session.get_async(m_count, on_loop([self = shared_from_this()](zk::Result<zk::NodeData>& r) {
                          if (!r) return self->answer(std::string("error ") + r.failure().what());
                          self->write_count(std::stoll(r.value().data) + 1, r.value().stat.version);
                        }));
  }
  void write_count(std::int64_t next, std::int32_t version) {
    std::vector<zk::Op> ops{zk::Op::check(m_lock.node_path()),
                            zk::Op::set(m_count, std::to_string(next), version)};
    const std::int64_t token = m_guard.fencing_token();
    m_session.multi_async(
        ops, on_loop([self = shared_from_this(), next, token](zk::Result<zk::MultiResult>& r) {
          if (!r || !r.value().ok()) return self->answer("error: the fenced write was refused");
          self->count_served("done " + std::to_string(token) + " " + std::to_string(next));
        }));
  }
  void count_served(const std::string& line) {
    zk::asio::async_add(m_served, 1, m_socket.get_executor(),
                        [self = shared_from_this(), line](std::error_code ec, zk::AddResult r) {
                          if (ec) return self->answer("error " + ec.message());
                          self->answer(line + " " + std::to_string(r.after));
                        });
  }
  void answer(std::string line) {
    m_out = std::move(line) + "\n";
    asio::async_write(m_socket, asio::buffer(m_out), [self = shared_from_this()](auto, auto) {
      self->m_guard.release(); // after the answer: the next request counts after this one
    });
  }

  tcp::socket m_socket;
  zk::Session& m_session;
  zk::DistributedLock& m_lock;
  const std::string m_count;
  zk::DistributedCounter& m_served;
  asio::streambuf m_in;
  std::string m_out;
  zk::LockGuard m_guard;
};

void accept(tcp::acceptor& acceptor, zk::Session& session, zk::DistributedLock& lock,
            const std::string& count, zk::DistributedCounter& served, int left) {
  if (left == 0) return;
  acceptor.async_accept([&, count, left](std::error_code ec, tcp::socket socket) {
    if (ec) return;
    std::make_shared<Request>(std::move(socket), session, lock, count, served)->start();
    accept(acceptor, session, lock, count, served, left - 1);
  });
}

// A client: connects, sends one request, keeps the answer.
struct Client : std::enable_shared_from_this<Client> {
  Client(asio::io_context& io, std::map<std::int64_t, std::int64_t>& into,
         std::set<std::int64_t>& served_into)
      : socket(io), counts(into), served(served_into) {}
  void run(const tcp::endpoint& at) {
    socket.async_connect(at, [self = shared_from_this()](std::error_code ec) {
      if (ec) return;
      asio::async_write(self->socket, asio::buffer(self->request), [self](auto, auto) {
        asio::async_read_until(self->socket, self->in, '\n', [self](auto failed, auto) {
          if (failed) return;
          std::istream line(&self->in);
          std::string word;
          std::int64_t token = 0, count = 0, nth = 0;
          line >> word >> token >> count >> nth;
          if (word != "done") return;
          self->counts[count] = token;
          self->served.insert(nth);
        });
      });
    });
  }
  tcp::socket socket;
  std::map<std::int64_t, std::int64_t>& counts; // count -> token; one io thread: no lock
  std::set<std::int64_t>& served;               // the counter's values
  std::string request = "count me\n";
  asio::streambuf in;
};

} // namespace

int main() {
  const char* env = std::getenv("ZK_HOSTS");
  const std::string hosts =
      env != nullptr && *env != '\0' ? env : "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181";
  try {
    zk::Session session(hosts);
    const std::string root = "/examples/asio_service-" + std::to_string(std::random_device{}());
    const std::string count = root + "/requests";
    session.ensure_path(root);
    session.create(count, "0");
    zk::DistributedLock lock(session, root + "/lock");
    zk::DistributedCounter served(session, root + "/served");

    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    accept(acceptor, session, lock, count, served, clients);
    std::map<std::int64_t, std::int64_t> counts;
    std::set<std::int64_t> served_values;
    for (int i = 0; i < clients; ++i)
      std::make_shared<Client>(io, counts, served_values)->run(acceptor.local_endpoint());
    io.run_for(60s); // returns once every request was answered and every connection closed
    std::cout << clients << " requests on one thread, port " << acceptor.local_endpoint().port()
              << '\n';

    bool ok = counts.size() == static_cast<std::size_t>(clients) && counts.begin()->first == 1 &&
              counts.rbegin()->first == clients;
    std::int64_t last = 0;
    for (const auto& [n, token] : counts) {
      ok = ok && token >= last; // threads of one process share a node: equal tokens are handoffs
      last = token;
    }
    const bool served_ok = served_values.size() == static_cast<std::size_t>(clients) &&
                           *served_values.begin() == 1 && *served_values.rbegin() == clients;
    std::cout << "counts 1.." << clients
              << " each given once, tokens never back: " << (ok ? "yes" : "NO") << "; final count "
              << session.get(count)->data << "; served 1.." << clients
              << " each once: " << (served_ok ? "yes" : "NO") << '\n';
    ok = ok && served_ok;
    session.remove_recursive(root);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "asio_service: " << e.what() << '\n';
    return 1;
  }
}
