// Happens-before annotations for ThreadSanitizer builds. oneTBB's library is not instrumented, so
// TSan cannot see that a task enqueued by one thread is started by another after the enqueue;
// WorkerPool marks that edge itself (release before enqueue, acquire when the task starts).
// No-ops in ordinary builds.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define LOOM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOOM_TSAN 1
#endif
#endif

#ifdef LOOM_TSAN
#include <sanitizer/tsan_interface.h>
#define LOOM_TSAN_RELEASE(addr) __tsan_release(addr)
#define LOOM_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define LOOM_TSAN_RELEASE(addr) ((void)(addr))
#define LOOM_TSAN_ACQUIRE(addr) ((void)(addr))
#endif
