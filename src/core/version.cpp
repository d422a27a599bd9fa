// zk::version(): the version compiled into the library (see zkrecipes/version.hpp).
#include <zkrecipes/version.hpp>

namespace zk {

const char* version() noexcept {
  return ZKRECIPES_VERSION_STRING;
}

} // namespace zk
