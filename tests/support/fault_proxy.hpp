// zkt::FaultProxy — an in-process TCP proxy in front of each ZooKeeper server, for fault tests.
//
//   zkt::FaultProxy proxy(zkt::hosts());           // one listener per upstream server
//   auto o = zkt::options(4s);
//   o.hosts = proxy.connect_string();              // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
//   zk::Session s(o);
//   proxy.drop_reply_after_apply(zkt::opcode::create2);
//   s.create(...);                                 // throws connection_loss, the node exists
//
// One thread runs a poll() loop over every listener and connection. It cuts each direction of a
// connection into ZooKeeper frames (4-byte big-endian length + body) so that faults act on whole
// frames: the stream a peer sees stays well-formed unless a fault means to break it. Bytes that are
// not ZooKeeper framing (e.g. a four-letter word) are forwarded as they come.
//
// Every control is thread-safe and takes effect before it returns (the loop applies it at once).
// `server` selects one upstream by index (0-based, in the order given), or `all`.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zkt {

/// Request types (OpCode values in ZooKeeper's ZooDefs.OpCode and the C client's proto.h).
namespace opcode {
inline constexpr std::int32_t create = 1;
inline constexpr std::int32_t remove = 2; // "delete"
inline constexpr std::int32_t set_data = 5;
inline constexpr std::int32_t check = 13;
inline constexpr std::int32_t multi = 14;
inline constexpr std::int32_t create2 = 15; // what zoo_acreate2 sends for the plain modes
inline constexpr std::int32_t create_container = 19;
inline constexpr std::int32_t create_ttl = 21;
} // namespace opcode

enum class Direction {
  to_server, ///< client → server (requests)
  to_client, ///< server → client (replies, notifications)
};

/// A reply the proxy swallowed (see drop_reply_after_apply).
struct DroppedReply {
  std::size_t server = 0; ///< upstream index
  std::int32_t op_type = 0;
  std::int32_t xid = 0;
  std::int64_t zxid = 0; ///< from the reply header: the server's zxid when it answered
  std::int32_t err = 0;  ///< 0: the server applied the request
};

struct ProxyStats {
  std::uint64_t accepted = 0; ///< client connections accepted
  std::uint64_t reset = 0;    ///< connections ended with RST by reset_all or a drop
  std::uint64_t frames_forwarded = 0;
  std::uint64_t frames_blackholed = 0; ///< frames discarded while black-holed
  std::uint64_t replies_dropped = 0;
};

class FaultProxy {
public:
  static constexpr int all = -1;

  /// Listens on 127.0.0.1:<ephemeral port> for each "ip:port" in `upstream_hosts` (comma-separated,
  /// numeric IPv4 or localhost).
  explicit FaultProxy(const std::string& upstream_hosts);
  /// Stops the loop, joins it, closes every socket (peers see a normal close).
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  /// "127.0.0.1:p1,127.0.0.1:p2,…" in upstream order: the client's connect string.
  [[nodiscard]] std::string connect_string() const;
  [[nodiscard]] std::uint16_t port(std::size_t server) const;
  [[nodiscard]] std::size_t size() const;

  /// Holds every frame travelling in `dir` for `delay` before forwarding it (order is kept; 0 ends
  /// it). Applies to frames received from now on.
  void delay(Direction dir, std::chrono::milliseconds delay, int server = all);

  /// On: existing connections stay open but every frame, both ways, is read and discarded, as in a
  /// network partition. New connections are not accepted (they wait in the listen backlog: the
  /// client's TCP connect succeeds, its handshake gets no answer); when the black hole ends they
  /// are accepted and their buffered bytes forwarded, as a healed partition would deliver them.
  /// Frames lost in the black hole are lost for good, so a client that sent a request meanwhile
  /// will see its connection break after the heal (xid out of order), never a wrong answer. A close
  /// or reset by either peer still propagates (what matters here is silence, not half-open
  /// sockets).
  void blackhole(bool on, int server = all);

  /// On: the listener is closed, so new connections are refused (ECONNREFUSED); existing ones are
  /// left alone (combine with reset_all to cut them). Off: listens again on the same port.
  void refuse(bool on, int server = all);

  /// Ends every current connection with a TCP RST to both peers (SO_LINGER 0). Returns how many.
  std::size_t reset_all(int server = all);

  /// Arms a lost-reply fault: the next `count` requests of `op_type` pass to the server unchanged;
  /// when the reply to one comes back it is discarded (with everything after it on that connection)
  /// and the client's connection is reset once the replies before it were written. The client sees
  /// a connection loss for a request the server has already executed. A request whose connection
  /// ends before its reply came gives its count back. Replaces an earlier arming.
  void drop_reply_after_apply(std::int32_t op_type, int count = 1);
  /// Disarms drop_reply_after_apply (replies already marked are still dropped).
  void cancel_drops();

  /// Replies dropped so far, in order.
  [[nodiscard]] std::vector<DroppedReply> dropped() const;
  /// Waits until at least `n` replies were dropped (and their connection reset); returns whether.
  bool wait_for_drops(std::size_t n, std::chrono::milliseconds timeout) const;

  [[nodiscard]] ProxyStats stats() const;
  /// Open client connections (to `server`, or in total).
  [[nodiscard]] std::size_t connections(int server = all) const;

  class Impl;

private:
  std::unique_ptr<Impl> m_impl;
};

} // namespace zkt
