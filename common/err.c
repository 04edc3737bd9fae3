/*
 * err.c - names for local error codes.
 */
#include "config.h"
#include "err.h"

static const char *const err_names[ERR__COUNT] = {
	[0] = "success",
	[1] = "out of memory",
	[2] = "invalid argument",
	[3] = "input/output error",
	[4] = "corrupt data",
	[5] = "too large",
	[6] = "not found",
	[7] = "already exists",
	[8] = "timed out",
	[9] = "closed",
	[10] = "try again",
	[11] = "out of range",
	[12] = "not supported",
	[13] = "no space left on device",
	[14] = "protocol error",
	[15] = "ZooKeeper error",
	[16] = "invalid state",
	[17] = "fenced by a newer epoch",
	[18] = "connection failed",
	[19] = "truncated input",
	[20] = "locked by another process",
	[21] = "out-of-order sequence number",
};

const char *err_str(int code)
{
	int i = -code;

	if (i < 0 || i >= ERR__COUNT || !err_names[i])
		return "unknown error";
	return err_names[i];
}
