// The ZooKeeper operations of SessionImpl: each is issued asynchronously on the C client with a
// heap "call" as context; its completion runs on the C client's completion thread and hands a
// Result to a continuation. Blocking calls wait for that Result with a deadline; *_async calls post
// it to the dispatcher thread, where user callbacks run.
#include "session/c_client.hpp"
#include "session/request_size.hpp"
#include "session/session_impl.hpp"

#include <memory>

namespace zk::detail {
namespace {

template <class T> struct Call {
  Call(SessionImpl* i, std::string w, std::string p, std::function<void(Result<T>)> d)
      : impl(i), what(std::move(w)), path(std::move(p)), done(std::move(d)) {}
  Call() = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  Call(Call&&) = delete;
  Call& operator=(Call&&) = delete;
  virtual ~Call() = default;
  SessionImpl* impl = nullptr;
  std::string what;
  std::string path;
  std::function<void(Result<T>)> done;   // runs on the C client's completion thread
  std::uint64_t watch_id = 0;            // a watch registered with this call, if any
  Clock::time_point sent = Clock::now(); // before the C client can send it
};

// A reply the server sent (not one the C client made up for a lost connection, an expired or closed
// handle): the server heard from the session no earlier than when the request was issued.
bool answered(int rc) {
  return rc == ZOK ||
         (rc <= ZAPIERROR && rc != ZSESSIONEXPIRED && rc != ZCLOSING && rc != ZSESSIONMOVED);
}

template <class T> void note_reply(int rc, const Call<T>& call) {
  if (answered(rc)) call.impl->note_contact(call.sent);
}

// The watcher's context is the watch id itself, not a pointer: a watch that fires after its entry
// was dropped finds no entry instead of freed memory.
void* watch_context(std::uint64_t id) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the C client takes the id as its void* context
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}

template <class T> Result<T> failure(int rc, const std::string& what, const std::string& path) {
  Errc e = static_cast<Errc>(rc);
  if (rc == ZCLOSING) e = Errc::session_closed;
  if (rc == ZINVALIDSTATE) e = Errc::session_expired; // the handle expired; a new one is on its way
  // The C client fails every pending request with ZRUNTIMEINCONSISTENCY when it drops a connection
  // that answered out of order (a reply whose xid is not the oldest pending one). The request may
  // have been applied: it is a connection loss, not an inconsistency the caller could act on.
  if (rc == ZRUNTIMEINCONSISTENCY) e = Errc::connection_loss;
  return Result<T>(e, what + " " + path);
}

template <class T> std::unique_ptr<Call<T>> take(const void* data) {
  return std::unique_ptr<Call<T>>(static_cast<Call<T>*>(const_cast<void*>(data)));
}

void on_created(int rc, const char* value, const struct ::Stat* stat, const void* data) {
  auto call = take<Created>(data);
  note_reply(rc, *call);
  if (rc == ZOK) {
    call->done(Created{value != nullptr ? value : "", stat != nullptr ? to_stat(*stat) : Stat{}});
  } else {
    call->done(failure<Created>(rc, call->what, call->path));
  }
}

void on_data(int rc, const char* value, int len, const struct ::Stat* stat, const void* data) {
  auto call = take<NodeData>(data);
  note_reply(rc, *call);
  if (rc != ZOK && call->watch_id != 0) call->impl->forget_watch(call->watch_id);
  if (rc == ZOK) {
    call->done(NodeData{value != nullptr && len > 0
                            ? std::string(value, static_cast<std::size_t>(len))
                            : std::string(),
                        to_stat(*stat)});
  } else {
    call->done(failure<NodeData>(rc, call->what, call->path));
  }
}

void on_stat(int rc, const struct ::Stat* stat, const void* data) {
  auto call = take<Stat>(data);
  note_reply(rc, *call);
  if (rc == ZOK) {
    call->done(to_stat(*stat));
  } else {
    call->done(failure<Stat>(rc, call->what, call->path));
  }
}

void on_exists(int rc, const struct ::Stat* stat, const void* data) {
  auto call = take<std::optional<Stat>>(data);
  note_reply(rc, *call);
  // exists() leaves a watch behind for an absent node too (it fires on creation).
  if (rc != ZOK && rc != ZNONODE && call->watch_id != 0) call->impl->forget_watch(call->watch_id);
  if (rc == ZOK) {
    call->done(std::optional<Stat>(to_stat(*stat)));
  } else if (rc == ZNONODE) {
    call->done(std::optional<Stat>());
  } else {
    call->done(failure<std::optional<Stat>>(rc, call->what, call->path));
  }
}

void on_children(int rc, const struct String_vector* names, const struct ::Stat* stat,
                 const void* data) {
  auto call = take<Children>(data);
  note_reply(rc, *call);
  if (rc != ZOK && call->watch_id != 0) call->impl->forget_watch(call->watch_id);
  if (rc != ZOK) return call->done(failure<Children>(rc, call->what, call->path));
  Children out;
  out.stat = to_stat(*stat);
  if (names != nullptr) {
    out.names.reserve(static_cast<std::size_t>(names->count));
    for (int i = 0; i < names->count; ++i)
      out.names.emplace_back(names->data[i]);
  }
  call->done(std::move(out));
}

void on_void(int rc, const void* data) {
  auto call = take<Done>(data);
  note_reply(rc, *call);
  if (rc == ZOK) {
    call->done(Done{});
  } else {
    call->done(failure<Done>(rc, call->what, call->path));
  }
}

void on_synced(int rc, const char* /*value*/, const void* data) {
  on_void(rc, data);
}

struct MultiCall : Call<MultiResult> {
  std::vector<Op> ops; // owns the paths and data the zoo_op_t point into
  std::vector<zoo_op_t> c_ops;
  std::vector<zoo_op_result_t> results;
  std::vector<std::vector<char>> path_buffers;
  std::vector<struct ::Stat> stats;
  std::unique_ptr<CAcl> acl; // of its creates: the session's default ACL
};

void on_multi(int rc, const void* data) {
  std::unique_ptr<MultiCall> call(static_cast<MultiCall*>(const_cast<void*>(data)));
  note_reply(rc, *call);
  MultiResult out;
  bool op_failed = false;
  for (std::size_t i = 0; i < call->ops.size(); ++i) {
    const zoo_op_result_t& r = call->results[i];
    OpResult op;
    op.error = static_cast<Errc>(r.err);
    if (r.err != ZOK && r.err != ZRUNTIMEINCONSISTENCY) op_failed = true;
    if (rc == ZOK && call->ops[i].type == Op::Type::create) op.path = call->path_buffers[i].data();
    if (rc == ZOK && call->ops[i].type == Op::Type::set) op.stat = to_stat(call->stats[i]);
    out.results.push_back(std::move(op));
  }
  // The server answered but refused an op: that is a result. Anything else (connection loss,
  // expiry, closing) is an error of the call, even though the C client then stamps every op with
  // that code.
  const bool refusal = rc != ZOK && answered(rc);
  if (rc != ZOK && (!op_failed || !refusal))
    return call->done(failure<MultiResult>(rc, call->what, call->path));
  out.error = static_cast<Errc>(rc);
  call->done(std::move(out));
}

template <class T>
Call<T>* new_call(SessionImpl* impl, const char* what, std::string_view path,
                  std::function<void(Result<T>)> done) {
  return new Call<T>(impl, what, std::string(path), std::move(done));
}

// Issues a call; if the C client refuses it at once, the continuation gets the error.
template <class T, class Issue> void issue(Call<T>* call, Issue&& fn) {
  int rc = ZOK;
  try {
    rc = fn();
  } catch (...) {
    delete call;
    throw;
  }
  if (rc != ZOK) {
    std::unique_ptr<Call<T>> owned(call);
    if (owned->watch_id != 0) owned->impl->forget_watch(owned->watch_id);
    owned->done(failure<T>(rc, owned->what, owned->path));
  }
}

} // namespace

template <class F> int SessionImpl::with_handle(F&& fn) {
  std::shared_lock<std::shared_mutex> lock(m_handle_mutex);
  if (m_zh == nullptr) throw Error(Errc::session_closed, "the session is closed");
  return fn(m_zh);
}

template <class T, class Start>
T SessionImpl::wait(Deadline d, const char* what, std::string_view path, Start&& start) {
  check_blocking_call(what);
  const auto deadline = resolve(d);
  struct Waiter {
    std::mutex m;
    std::condition_variable cv;
    std::optional<Result<T>> result;
  };
  auto w = std::make_shared<Waiter>();
  start([w](Result<T> r) {
    std::lock_guard<std::mutex> lock(w->m);
    w->result.emplace(std::move(r));
    w->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(w->m);
  if (!w->cv.wait_until(lock, deadline, [&] { return w->result.has_value(); }))
    throw Error(Errc::deadline_exceeded, std::string(what) + " " + std::string(path));
  return std::move(w->result->value());
}

// Continuations of the *_async calls: hop to the dispatcher thread.
template <class T>
std::function<void(Result<T>)> SessionImpl::to_dispatcher(std::function<void(Result<T>)> done) {
  if (!done) throw Error(Errc::invalid_argument, "async call without a completion callback");
  return [self = shared_from_this(), done = std::move(done)](Result<T> r) {
    self->post([done, r = std::move(r)]() mutable { done(std::move(r)); });
  };
}

void SessionImpl::start_create(std::string_view path, std::string_view data, CreateOptions options,
                               std::function<void(Result<Created>)> done) {
  validate_path(path);
  check_create(path, data, options);
  if (is_ttl(options.mode) && options.ttl.count() <= 0) {
    throw Error(Errc::invalid_argument,
                "create " + std::string(path) + ": a TTL mode needs a positive ttl");
  }
  if (options.acl) validate_acl(*options.acl, "create " + std::string(path));
  auto* call = new_call<Created>(this, "create", path, std::move(done));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      std::string bytes(data);
      const int len = static_cast<int>(bytes.size());
      CAcl acl(acl_for(options)); // the C client serializes it before returning
      if (is_ttl(options.mode)) {
        return zoo_acreate2_ttl(zh, call->path.c_str(), bytes.data(), len, acl.get(),
                                to_c_mode(options.mode), options.ttl.count(), on_created, call);
      }
      return zoo_acreate2(zh, call->path.c_str(), bytes.data(), len, acl.get(),
                          to_c_mode(options.mode), on_created, call);
    });
  });
}

void SessionImpl::start_get(std::string_view path, Watcher watch,
                            std::function<void(Result<NodeData>)> done) {
  validate_path(path);
  check_size(wire::read(m_chroot_size + path.size()), "get", path);
  auto* call = new_call<NodeData>(this, "get", path, std::move(done));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      if (!watch) return zoo_aget(zh, call->path.c_str(), 0, on_data, call);
      call->watch_id = register_watch(std::move(watch), path, WatchKind::data, zh);
      return zoo_awget(zh, call->path.c_str(), node_watcher, watch_context(call->watch_id), on_data,
                       call);
    });
  });
}

void SessionImpl::start_set(std::string_view path, std::string_view data, std::int32_t version,
                            std::function<void(Result<Stat>)> done) {
  validate_path(path);
  check_size(wire::set(m_chroot_size + path.size(), data.size()), "set", path);
  auto* call = new_call<Stat>(this, "set", path, std::move(done));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      std::string bytes(data);
      return zoo_aset(zh, call->path.c_str(), bytes.data(), static_cast<int>(bytes.size()), version,
                      on_stat, call);
    });
  });
}

void SessionImpl::start_exists(std::string_view path, Watcher watch,
                               std::function<void(Result<std::optional<Stat>>)> done) {
  validate_path(path);
  check_size(wire::read(m_chroot_size + path.size()), "exists", path);
  auto* call = new_call<std::optional<Stat>>(this, "exists", path, std::move(done));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      if (!watch) return zoo_aexists(zh, call->path.c_str(), 0, on_exists, call);
      call->watch_id = register_watch(std::move(watch), path, WatchKind::data, zh);
      return zoo_awexists(zh, call->path.c_str(), node_watcher, watch_context(call->watch_id),
                          on_exists, call);
    });
  });
}

void SessionImpl::start_children(std::string_view path, Watcher watch,
                                 std::function<void(Result<Children>)> done) {
  validate_path(path);
  check_size(wire::read(m_chroot_size + path.size()), "children", path);
  auto* call = new_call<Children>(this, "children", path, std::move(done));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      if (!watch) return zoo_aget_children2(zh, call->path.c_str(), 0, on_children, call);
      call->watch_id = register_watch(std::move(watch), path, WatchKind::child, zh);
      return zoo_awget_children2(zh, call->path.c_str(), node_watcher,
                                 watch_context(call->watch_id), on_children, call);
    });
  });
}

void SessionImpl::start_remove(std::string_view path, std::int32_t version,
                               std::function<void(Result<Done>)> done) {
  validate_path(path);
  check_size(wire::remove(m_chroot_size + path.size()), "remove", path);
  auto* call = new_call<Done>(this, "remove", path, std::move(done));
  issue(call, [&] {
    return with_handle(
        [&](zhandle_t* zh) { return zoo_adelete(zh, call->path.c_str(), version, on_void, call); });
  });
}

void SessionImpl::start_sync(std::string_view path, std::function<void(Result<Done>)> done) {
  validate_path(path);
  check_size(wire::sync(m_chroot_size + path.size()), "sync", path);
  auto* call = new_call<Done>(this, "sync", path, std::move(done));
  issue(call, [&] {
    return with_handle(
        [&](zhandle_t* zh) { return zoo_async(zh, call->path.c_str(), on_synced, call); });
  });
}

void SessionImpl::start_multi(const std::vector<Op>& ops,
                              std::function<void(Result<MultiResult>)> done) {
  if (ops.empty()) throw Error(Errc::invalid_argument, "multi: no operations");
  for (const Op& op : ops) {
    validate_path(op.path);
    if (op.type == Op::Type::create && is_ttl(op.mode)) {
      throw Error(Errc::invalid_argument,
                  "multi: create " + op.path + ": TTL modes are not supported in a multi");
    }
  }
  check_size(wire::multi(ops, m_chroot_size, m_default_acl), "multi", ops.front().path);
  auto call = std::make_unique<MultiCall>();
  call->impl = this;
  call->what = "multi";
  call->path =
      ops.front().path + (ops.size() > 1 ? " (+" + std::to_string(ops.size() - 1) + " ops)" : "");
  call->done = std::move(done);
  call->ops = ops;
  const std::size_t n = ops.size();
  call->c_ops.resize(n);
  call->acl = std::make_unique<CAcl>(m_default_acl);
  call->results.assign(n, zoo_op_result_t{ZOK, nullptr, 0, nullptr});
  call->path_buffers.resize(n);
  call->stats.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Op& op = call->ops[i];
    zoo_op_t* c = &call->c_ops[i];
    switch (op.type) {
    case Op::Type::create:
      call->path_buffers[i].assign(op.path.size() + 32, '\0');
      zoo_create_op_init(c, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                         call->acl->get(), to_c_mode(op.mode), call->path_buffers[i].data(),
                         static_cast<int>(call->path_buffers[i].size()));
      break;
    case Op::Type::remove:
      zoo_delete_op_init(c, op.path.c_str(), op.version);
      break;
    case Op::Type::set:
      zoo_set_op_init(c, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                      op.version, &call->stats[i]);
      break;
    case Op::Type::check:
      zoo_check_op_init(c, op.path.c_str(), op.version);
      break;
    }
  }
  MultiCall* raw = call.release();
  issue<MultiResult>(raw, [&] {
    return with_handle([&](zhandle_t* zh) {
      // zoo_amulti (C client 3.8.0) has no up-front state check: on an expired handle the first
      // op's init fails, and for every later op it then frees the uninitialised path pointer of
      // its request (heap corruption, seen as a double free). Refuse as the other calls do.
      if (zoo_state(zh) < 0) return static_cast<int>(ZINVALIDSTATE);
      return zoo_amulti(zh, static_cast<int>(n), raw->c_ops.data(), raw->results.data(), on_multi,
                        raw);
    });
  });
}

void SessionImpl::check_size(std::size_t bytes, const char* what, std::string_view path) const {
  if (bytes <= m_options.max_request_size) return;
  std::string shown(path.substr(0, 200));
  if (path.size() > shown.size()) shown += "... (" + std::to_string(path.size()) + " bytes)";
  throw Error(Errc::invalid_argument,
              std::string(what) + " " + shown + ": the request is " + std::to_string(bytes) +
                  " bytes, over the " + std::to_string(m_options.max_request_size) +
                  "-byte limit of the server (SessionOptions::max_request_size, jute.maxbuffer)");
}

void SessionImpl::check_create(std::string_view path, std::string_view data,
                               const CreateOptions& options) const {
  check_size(wire::create(m_chroot_size + path.size(), data.size(), acl_for(options),
                          is_ttl(options.mode)),
             "create", path);
}

// --- Blocking calls. ---

Created SessionImpl::create(std::string_view path, std::string_view data, CreateOptions options,
                            Deadline d) {
  return wait<Created>(d, "create", path,
                       [&](auto done) { start_create(path, data, options, done); });
}

std::optional<NodeData> SessionImpl::get(std::string_view path, Watcher watch, Deadline d) {
  try {
    return wait<NodeData>(d, "get", path,
                          [&](auto done) { start_get(path, std::move(watch), done); });
  } catch (const Error& e) {
    if (e.errc() == Errc::no_node) return std::nullopt;
    throw;
  }
}

Stat SessionImpl::set(std::string_view path, std::string_view data, std::int32_t version,
                      Deadline d) {
  return wait<Stat>(d, "set", path, [&](auto done) { start_set(path, data, version, done); });
}

std::optional<Stat> SessionImpl::exists(std::string_view path, Watcher watch, Deadline d) {
  return wait<std::optional<Stat>>(d, "exists", path,
                                   [&](auto done) { start_exists(path, std::move(watch), done); });
}

std::optional<Children> SessionImpl::children(std::string_view path, Watcher watch, Deadline d) {
  try {
    return wait<Children>(d, "children", path,
                          [&](auto done) { start_children(path, std::move(watch), done); });
  } catch (const Error& e) {
    if (e.errc() == Errc::no_node) return std::nullopt;
    throw;
  }
}

bool SessionImpl::remove(std::string_view path, std::int32_t version, Deadline d) {
  try {
    wait<Done>(d, "remove", path, [&](auto done) { start_remove(path, version, done); });
    return true;
  } catch (const Error& e) {
    if (e.errc() == Errc::no_node) return false;
    throw;
  }
}

MultiResult SessionImpl::multi(const std::vector<Op>& ops, Deadline d) {
  return wait<MultiResult>(d, "multi", ops.empty() ? std::string_view() : ops.front().path,
                           [&](auto done) { start_multi(ops, done); });
}

void SessionImpl::sync(std::string_view path, Deadline d) {
  wait<Done>(d, "sync", path, [&](auto done) { start_sync(path, done); });
}

std::size_t SessionImpl::remove_recursive(std::string_view path, Deadline d) {
  validate_path(path);
  if (path == "/") throw Error(Errc::invalid_argument, "remove_recursive: not the root");
  const auto deadline = resolve(d);
  std::size_t removed = 0;
  if (const auto kids = children(path, {}, deadline)) {
    const std::string base(path);
    for (const auto& name : kids->names)
      removed += remove_recursive(std::string(base).append("/").append(name), deadline);
  }
  if (remove(path, any_version, deadline)) ++removed;
  return removed;
}

void SessionImpl::ensure_path(std::string_view path, CreateMode mode, Deadline d) {
  validate_path(path);
  const auto deadline = resolve(d);
  if (exists(path, {}, deadline)) return;
  std::size_t pos = 0;
  while (pos != std::string_view::npos) {
    pos = path.find('/', pos + 1);
    const std::string_view prefix = path.substr(0, pos);
    try {
      create(prefix, {}, mode, deadline);
    } catch (const Error& e) {
      if (e.errc() != Errc::node_exists) throw;
    }
  }
}

// "Remove all of this type on the path": removing one specific watcher only sends CHECK_WATCHES,
// which leaves the server's watch in place. `done` gets how many of our watches were removed.
void SessionImpl::start_remove_watches(std::string_view path, WatchKind kind,
                                       std::function<void(Result<std::size_t>)> done) {
  validate_path(path);
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    for (const auto& [id, w] : m_watches)
      if (w.path == path && (kind == WatchKind::any || w.kind == kind)) ids.push_back(id);
  }
  if (ids.empty()) {
    done(std::size_t{0});
    return;
  }
  const auto type = kind == WatchKind::any    ? ZWATCHTYPE_ANY
                    : kind == WatchKind::data ? ZWATCHTYPE_DATA
                                              : ZWATCHTYPE_CHILD;
  auto finish = [self = shared_from_this(), ids, done = std::move(done)](const Result<Done>& r) {
    // Forgotten either way: removed now, or (no_watcher) fired meanwhile.
    for (const auto id : ids)
      self->forget_watch(id);
    if (r.ok()) return done(ids.size());
    if (r.error() == Errc::no_watcher) return done(std::size_t{0});
    done(Result<std::size_t>(r.error(), r.detail()));
  };
  auto* call = new_call<Done>(this, "remove_watches", path, std::move(finish));
  issue(call, [&] {
    return with_handle([&](zhandle_t* zh) {
      // The header declares a pointer to the completion; the library takes the function itself.
      return zoo_aremove_all_watches(zh, call->path.c_str(), type, 0,
                                     reinterpret_cast<void_completion_t*>(&on_void), call);
    });
  });
}

std::size_t SessionImpl::remove_watches(std::string_view path, WatchKind kind, Deadline d) {
  check_blocking_call("remove_watches");
  return wait<std::size_t>(d, "remove_watches", path,
                           [&](auto done) { start_remove_watches(path, kind, done); });
}

void SessionImpl::remove_watches_async(std::string_view path, WatchKind kind,
                                       std::function<void(Result<std::size_t>)> done) {
  start_remove_watches(path, kind, to_dispatcher(std::move(done)));
}

// --- Asynchronous calls. ---

void SessionImpl::create_async(std::string_view path, std::string_view data, CreateOptions options,
                               std::function<void(Result<Created>)> done) {
  start_create(path, data, std::move(options), to_dispatcher(std::move(done)));
}
void SessionImpl::get_async(std::string_view path, Watcher watch,
                            std::function<void(Result<NodeData>)> done) {
  start_get(path, std::move(watch), to_dispatcher(std::move(done)));
}
void SessionImpl::set_async(std::string_view path, std::string_view data, std::int32_t version,
                            std::function<void(Result<Stat>)> done) {
  start_set(path, data, version, to_dispatcher(std::move(done)));
}
void SessionImpl::exists_async(std::string_view path, Watcher watch,
                               std::function<void(Result<std::optional<Stat>>)> done) {
  start_exists(path, std::move(watch), to_dispatcher(std::move(done)));
}
void SessionImpl::children_async(std::string_view path, Watcher watch,
                                 std::function<void(Result<Children>)> done) {
  start_children(path, std::move(watch), to_dispatcher(std::move(done)));
}
void SessionImpl::remove_async(std::string_view path, std::int32_t version,
                               std::function<void(Result<Done>)> done) {
  start_remove(path, version, to_dispatcher(std::move(done)));
}
void SessionImpl::multi_async(const std::vector<Op>& ops,
                              std::function<void(Result<MultiResult>)> done) {
  start_multi(ops, to_dispatcher(std::move(done)));
}
void SessionImpl::sync_async(std::string_view path, std::function<void(Result<Done>)> done) {
  start_sync(path, to_dispatcher(std::move(done)));
}

} // namespace zk::detail
