// Links the C client found by FindZooKeeper: a synchronous call (THREADED builds only) must
// resolve.
#include <zookeeper/zookeeper.h>

#include <cstring>
#include <iostream>

int main() {
  // Never called: taking its address makes the link need the synchronous API.
  auto* sync_call = &zoo_exists;
  const char* text = zerror(ZNONODE);
  std::cout << "C client linked: " << text << '\n';
  return sync_call != nullptr && std::strlen(text) > 0 ? 0 : 1;
}
