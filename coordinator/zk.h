/*
 * zk.h - a ZooKeeper session that survives expiry.
 *
 * One zk_session_t wraps the multi-threaded ZooKeeper C client. It opens
 * the session (creating the chroot of "h1:2181,h2:2181/fluxo" if missing),
 * waits until it is connected, reports state changes to listeners, and
 * when the server expires the session it opens a new one and says so
 * (ZK_EVENT_NEW_SESSION), after which listeners re-create their ephemeral
 * nodes and watches.
 *
 * Every call below returns ZooKeeper's own return code (ZOK, ZNONODE,
 * ZNODEEXISTS, ZBADVERSION, ZCONNECTIONLOSS, ...; zerror() names them), so
 * callers handle each condition explicitly as the C client documents it.
 *
 * Watches are set through a zk_watcher_t: a (function, argument) pair the
 * session owns. Its function runs on a ZooKeeper client thread and must
 * only post an event to its owner's queue; zk_watcher_disable() guarantees
 * that it is not running and will not run again, so the owner may then be
 * freed even though ZooKeeper still holds the watch.
 *
 * Threads: every function may be called from any thread except where a
 * comment says otherwise. Synchronous calls block the caller until the
 * server answers or the connection is lost (the client then fails them
 * with ZCONNECTIONLOSS), so they must not be made from a watch function.
 */
#ifndef FLUXO_ZK_H
#define FLUXO_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The synchronous API of the multi-threaded client is declared only then. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper/zookeeper.h>

typedef struct zk_session zk_session_t;
typedef struct zk_watcher zk_watcher_t;

struct zk_config {
	/* "host:port[,host:port...][/chroot]" (zookeeper.connect). */
	const char *connect;
	/* zookeeper.session.timeout.ms; 0 picks 18000. */
	int session_timeout_ms;
	/* zookeeper.connection.timeout.ms; 0 means the session timeout. */
	int connection_timeout_ms;
};

enum zk_event {
	ZK_EVENT_CONNECTED,    /* (re)connected; the same session goes on */
	ZK_EVENT_DISCONNECTED, /* connection lost; the session may survive */
	ZK_EVENT_EXPIRED,      /* the session is gone: ephemerals, watches */
	ZK_EVENT_NEW_SESSION,  /* a new session replaced an expired one */
};

const char *zk_event_name(enum zk_event ev);

/*
 * Called on the session's own thread, in registration order, for every
 * state change. It may make synchronous ZooKeeper calls (registration
 * re-creates its node from here) but should not block for long, since
 * later listeners wait. It must not call zk_session_close().
 */
typedef void (*zk_listener_fn)(zk_session_t *zs, enum zk_event ev, void *arg);

/*
 * A watch fired: type is ZOO_CREATED_EVENT, ZOO_DELETED_EVENT,
 * ZOO_CHANGED_EVENT or ZOO_CHILD_EVENT, path is relative to the chroot.
 * Runs on a ZooKeeper client thread: post an event and return.
 * Session events are not delivered here (use a listener).
 */
typedef void (*zk_watch_fn)(void *arg, int type, const char *path);

/*
 * Opens a session and waits up to the connection timeout for it to be
 * connected. Creates the chroot path first when the connect string has
 * one. Returns the session, or NULL with errstr set ("could not connect to
 * ZooKeeper at ... within 6000 ms"). cfg is copied.
 */
zk_session_t *zk_session_open(const struct zk_config *cfg, char *errstr,
			      size_t errstr_size);

/*
 * Closes the session (its ephemeral nodes go at once), stops the session
 * thread and frees every watcher. NULL is ignored. Owners of listeners and
 * watchers must have stopped using them; no callback runs after return.
 */
void zk_session_close(zk_session_t *zs);

/*
 * Adds a listener; returns its id (>= 0) or ERR_NOMEM. Listeners added
 * later than an event do not see it.
 */
int zk_session_listen(zk_session_t *zs, zk_listener_fn fn, void *arg);

/*
 * Removes a listener. On return fn is not running and will not be called
 * again. May be called from a listener (for itself or another one).
 */
void zk_session_unlisten(zk_session_t *zs, int id);

/* The current session id (0 while no session is established). */
int64_t zk_session_id(zk_session_t *zs);

/*
 * The current session's id and password, for tests that force an expiry
 * by opening a second handle on the same session. Returns ZOK, or
 * ZINVALIDSTATE when no session is established.
 */
int zk_session_credentials(zk_session_t *zs, clientid_t *out);

/* True while connected. */
bool zk_session_connected(zk_session_t *zs);

/* Negotiated session timeout in ms (the configured one before connect). */
int zk_session_timeout_ms(zk_session_t *zs);

/*
 * Creates a watcher owned by the session. Returns NULL on allocation
 * failure. It lives until zk_session_close(); disable it when its owner
 * goes away.
 */
zk_watcher_t *zk_watcher_new(zk_session_t *zs, zk_watch_fn fn, void *arg);

/* After return, w's function is not running and never runs again. */
void zk_watcher_disable(zk_watcher_t *w);

/* ------------------------------------------------------------- sync calls */

/*
 * Reads path. *data receives a malloc'd, NUL-terminated copy (the caller
 * frees it; NULL when data is NULL), *len its length (0 for empty or null
 * data); st may be NULL. w (may be NULL) is set as a data watch on ZOK.
 * Returns ZOK, ZNONODE, ZCONNECTIONLOSS, ZSESSIONEXPIRED, ZINVALIDSTATE, ...
 */
int zk_get(zk_session_t *zs, const char *path, zk_watcher_t *w, char **data,
	   int *len, struct Stat *st);

/*
 * Stats path and sets w (may be NULL) as an exists watch, which is set
 * even when the node does not exist. Returns ZOK, ZNONODE, ...
 */
int zk_exists(zk_session_t *zs, const char *path, zk_watcher_t *w,
	      struct Stat *st);

/*
 * Lists the children of path into out (free with
 * deallocate_String_vector()); w (may be NULL) becomes a child watch.
 * Returns ZOK, ZNONODE, ...
 */
int zk_children(zk_session_t *zs, const char *path, zk_watcher_t *w,
		struct String_vector *out);

/*
 * Creates path with data (len bytes; data NULL and len -1 for null data)
 * and flags (0, ZOO_EPHEMERAL, ZOO_SEQUENCE, ZOO_EPHEMERAL_SEQUENTIAL),
 * open ACL. The created path (differs with ZOO_SEQUENCE) is written to
 * out_path when it is not NULL. st may be NULL. Returns ZOK, ZNODEEXISTS,
 * ZNONODE (parent missing), ...
 */
int zk_create(zk_session_t *zs, const char *path, const char *data, int len,
	      int flags, char *out_path, int out_path_size, struct Stat *st);

/*
 * Creates path and each missing ancestor as empty persistent nodes.
 * An existing node is not an error. Returns ZOK or the first failure.
 */
int zk_create_parents(zk_session_t *zs, const char *path);

/*
 * Sets path's data if its version is version (-1: any). st (may be NULL)
 * receives the new stat. Returns ZOK, ZBADVERSION, ZNONODE, ...
 */
int zk_set(zk_session_t *zs, const char *path, const char *data, int len,
	   int version, struct Stat *st);

/* Deletes path at version (-1: any). Returns ZOK, ZNONODE, ZNOTEMPTY, ... */
int zk_delete(zk_session_t *zs, const char *path, int version);

/*
 * Runs n operations atomically (zoo_create_op_init() etc. fill ops).
 * results must have room for n entries. Returns ZOK, or the error of the
 * first failing operation; results[i].err says which one failed.
 */
int zk_multi(zk_session_t *zs, int n, const zoo_op_t *ops,
	     zoo_op_result_t *results);

/* ------------------------------------------------------------- pipelined */

/* One read of zk_get_many(). */
struct zk_read {
	const char *path; /* in: borrowed until the call returns */
	int rc;		  /* out: ZOK, ZNONODE, ... */
	char *data;	  /* out: malloc'd, NUL-terminated, or NULL */
	int len;	  /* out */
	struct Stat stat; /* out, valid when rc == ZOK */
};

/*
 * Reads every path in reads[0..n) with pipelined asynchronous calls (many
 * requests in flight at once) and waits until all have answered. w (may be
 * NULL) becomes a data watch on each node read successfully. Each entry's
 * rc says how its read went. Returns ZOK when every request was issued
 * (whatever each answered), otherwise the first issue error (entries not
 * issued get that rc). Free the data with zk_reads_free().
 */
int zk_get_many(zk_session_t *zs, struct zk_read *reads, int n,
		zk_watcher_t *w);

/* Frees the data of reads[0..n) and sets each to NULL. */
void zk_reads_free(struct zk_read *reads, int n);

/* True when rc means the connection or session failed, not the node. */
static inline bool zk_rc_is_connection(int rc)
{
	return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ||
	       rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || rc == ZCLOSING ||
	       rc == ZSESSIONMOVED;
}

#endif
