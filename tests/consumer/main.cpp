#include <zkrecipes/zkrecipes.hpp>

#include <iostream>

int main() {
  try {
    zk::validate_path("relative");
  } catch (const zk::Error& e) {
    std::cout << "consumer ok: " << e.what() << '\n';
    return e.is_usage() ? 0 : 1;
  }
  return 1;
}
