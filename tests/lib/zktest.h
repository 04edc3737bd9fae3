/*
 * zktest.h - a real ZooKeeper for the coordinator's tests.
 *
 * zktest_start() runs deploy/zk-local in a fresh temporary directory and
 * returns its connect string; zktest_stop() stops it and removes the
 * directory (also at exit of the process that started it, never in a
 * forked test child). Each test then works under its own chroot
 * (zktest_chroot()), so tests of one binary cannot see each other's
 * znodes.
 */
#ifndef FLUXO_TEST_ZKTEST_H
#define FLUXO_TEST_ZKTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/zk.h"

/* Starts the server (once per process). Returns the connect string or
 * NULL with a message on stderr. */
const char *zktest_start(void);
void zktest_stop(void);

/* "127.0.0.1:port/<prefix>_<pid>_<n>": a fresh chroot. Static buffer. */
const char *zktest_chroot(const char *prefix);

/* Opens a session on connect (5 s connection timeout). Fails the test. */
zk_session_t *zktest_session(const char *connect, int session_timeout_ms);

/*
 * Expires zs's session the documented way: opens a second handle with
 * the same id and password and closes it. Returns true when the second
 * handle connected and closed within timeout_ms.
 */
bool zktest_expire(zk_session_t *zs, int timeout_ms);

/* Polls cond(arg) every 10 ms for up to timeout_ms. */
bool zktest_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);

int64_t zktest_now_ms(void);

#endif
