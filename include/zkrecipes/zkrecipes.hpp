// zkrecipes — everything in one include.
#pragma once

#include <zkrecipes/async.hpp>
#include <zkrecipes/cancel.hpp>
#include <zkrecipes/distributed_counter.hpp>
#include <zkrecipes/distributed_lock.hpp>
#include <zkrecipes/error.hpp>
#include <zkrecipes/leader.hpp>
#include <zkrecipes/observer.hpp>
#include <zkrecipes/read_write_lock.hpp>
#include <zkrecipes/retry.hpp>
#include <zkrecipes/semaphore.hpp>
#include <zkrecipes/session.hpp>
#include <zkrecipes/sharded_counter.hpp>
#include <zkrecipes/version.hpp>
