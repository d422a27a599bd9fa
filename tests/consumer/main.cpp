#include <zkrecipes/zkrecipes.hpp>

#include <iostream>
#include <string>

int main() {
  if (std::string(zk::version()) != zk::header_version) {
    std::cout << "library " << zk::version() << " but headers " << zk::header_version << '\n';
    return 1;
  }
  try {
    zk::validate_path("relative");
  } catch (const zk::Error& e) {
    std::cout << "consumer ok: " << e.what() << '\n';
    return e.is_usage() ? 0 : 1;
  }
  return 1;
}
