/*
 * err.h - the one enumeration of local error codes.
 *
 * Local errors are what functions inside a fluxo process return to each
 * other: 0 for success, a negative code otherwise. They are never sent on
 * the wire; the wire's error codes are the ErrorCode enum of
 * proto/fluxo.proto (Kafka's numbers and meanings), and the two are
 * translated explicitly where a handler builds a response.
 */
#ifndef FLUXO_ERR_H
#define FLUXO_ERR_H

enum err {
	ERR_OK = 0,
	ERR_NOMEM = -1,		/* allocation failed */
	ERR_INVAL = -2,		/* invalid argument or value */
	ERR_IO = -3,		/* system call failed; errno has details */
	ERR_CORRUPT = -4,	/* bytes fail validation (CRC, bounds, magic) */
	ERR_TOO_LARGE = -5,	/* exceeds a configured or hard limit */
	ERR_NOT_FOUND = -6,	/* no such object */
	ERR_EXISTS = -7,	/* object already exists */
	ERR_TIMEOUT = -8,	/* deadline passed */
	ERR_CLOSED = -9,	/* peer or object closed */
	ERR_AGAIN = -10,	/* try again later (would block, not ready) */
	ERR_OUT_OF_RANGE = -11,	/* offset or index outside the valid range */
	ERR_UNSUPPORTED = -12,	/* feature, codec or version not supported */
	ERR_NOSPACE = -13,	/* disk full */
	ERR_PROTO = -14,	/* peer violated the protocol */
	ERR_ZK = -15,		/* ZooKeeper call failed */
	ERR_STATE = -16,	/* operation invalid in the current state */
	ERR_FENCED = -17,	/* a newer epoch exists: stale controller/leader */
	ERR_CONNECT = -18,	/* could not connect */
	ERR_TRUNCATED = -19,	/* input ends before the structure does */
	ERR_LOCKED = -20,	/* resource held by another process */
	ERR_SEQUENCE = -21,	/* out-of-order sequence number */
	ERR__COUNT = 22
};

/* Returns a static, human-readable sentence fragment for code. */
const char *err_str(int code);

#endif
