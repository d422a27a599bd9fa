// zkrecipes — everything in one include.
#pragma once

#include <zkrecipes/error.hpp>
#include <zkrecipes/session.hpp>
#if __has_include(<zkrecipes/distributed_lock.hpp>)
#include <zkrecipes/distributed_lock.hpp>
#endif
#if __has_include(<zkrecipes/distributed_counter.hpp>)
#include <zkrecipes/distributed_counter.hpp>
#endif
#if __has_include(<zkrecipes/sharded_counter.hpp>)
#include <zkrecipes/sharded_counter.hpp>
#endif
#if __has_include(<zkrecipes/retry.hpp>)
#include <zkrecipes/retry.hpp>
#endif
