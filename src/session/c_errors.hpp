// The C client's own text for its error codes, for the error category in src/core/error.cpp.
#pragma once

namespace zk::detail {

/// zerror(code): the C client's description of one of its codes.
const char* c_client_text(int code) noexcept;

} // namespace zk::detail
