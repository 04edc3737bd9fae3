/*
 * controller_zk.c - fenced, batched ZooKeeper writes.
 *
 * Every write of the controller goes through here. A batch holds groups
 * of operations (one group per partition, say); groups are packed into
 * multi-ops of at most MULTI_MAX_OPS operations and MULTI_MAX_BYTES of
 * data, each multi led by a check of /controller_epoch's version. So
 * 1,000 partition changes are one or two round trips, and a controller
 * that a newer one has replaced cannot change anything: its check fails
 * with ZBADVERSION and the batch stops with ERR_FENCED.
 *
 * A multi is all or nothing, so one bad group (a state znode that
 * already exists, say) would sink its neighbours. When a multi fails for
 * a reason other than fencing, its groups are retried one multi each, to
 * find which one failed; group_rc then says, per group, ZOK or the error.
 *
 * Controller thread only.
 */
#include "config.h"
#include "controller_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define MULTI_MAX_OPS	1000
#define MULTI_MAX_BYTES (512 * 1024)

void ctl_zb_init(struct ctl_zbatch *zb)
{
	memset(zb, 0, sizeof(*zb));
}

void ctl_zb_free(struct ctl_zbatch *zb)
{
	for (int i = 0; i < zb->n; i++) {
		free(zb->ops[i].path);
		free(zb->ops[i].data);
	}
	free(zb->ops);
	free(zb->group_rc);
	memset(zb, 0, sizeof(*zb));
}

int ctl_zb_group(struct ctl_zbatch *zb)
{
	return zb->n_groups++;
}

int ctl_zb_add(struct ctl_zbatch *zb, int type, const char *path, char *data,
	       int len, int version)
{
	struct ctl_zop *op;
	char *p = strdup(path);

	if (!p) {
		free(data);
		return ERR_NOMEM;
	}
	if (zb->n == zb->cap) {
		int cap = zb->cap ? zb->cap * 2 : 64;
		struct ctl_zop *v = realloc(zb->ops, (size_t)cap * sizeof(*v));

		if (!v) {
			free(p);
			free(data);
			return ERR_NOMEM;
		}
		zb->ops = v;
		zb->cap = cap;
	}
	if (zb->n_groups == 0)
		zb->n_groups = 1;
	op = &zb->ops[zb->n++];
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->path = p;
	op->data = data;
	op->len = data ? len : -1;
	op->version = version;
	op->group = zb->n_groups - 1;
	return 0;
}

static void init_op(zoo_op_t *zop, struct ctl_zop *op)
{
	if (op->type == ZOO_CREATE_OP)
		zoo_create_op_init(zop, op->path, op->data, op->len,
				   &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	else if (op->type == ZOO_SETDATA_OP)
		zoo_set_op_init(zop, op->path, op->data, op->len, op->version,
				&op->stat);
	else if (op->type == ZOO_DELETE_OP)
		zoo_delete_op_init(zop, op->path, op->version);
	else
		zoo_check_op_init(zop, op->path, op->version);
}

/*
 * Runs ops[first..last) as one fenced multi. Returns ZK rc; *fenced is set
 * when the epoch check failed.
 */
static int run_multi(controller_t *ctl, struct ctl_zbatch *zb, int first,
		     int last, bool *fenced)
{
	int n = last - first + 1, rc;
	zoo_op_t *zops = calloc((size_t)n, sizeof(*zops));
	zoo_op_result_t *res = calloc((size_t)n, sizeof(*res));

	*fenced = false;
	if (!zops || !res) {
		free(zops);
		free(res);
		return ZSYSTEMERROR;
	}
	zoo_check_op_init(&zops[0], ZK_PATH_CONTROLLER_EPOCH,
			  ctl->epoch_zkversion);
	for (int i = first; i < last; i++)
		init_op(&zops[i - first + 1], &zb->ops[i]);
	rc = zk_multi(ctl->zs, n, zops, res);
	if (rc != ZOK && (res[0].err == ZBADVERSION || res[0].err == ZNONODE))
		*fenced = true;
	free(zops);
	free(res);
	return rc;
}

static void set_groups(struct ctl_zbatch *zb, int first, int last, int rc)
{
	for (int i = first; i < last; i++)
		zb->group_rc[zb->ops[i].group] = rc;
}

int ctl_zk_run(controller_t *ctl, struct ctl_zbatch *zb)
{
	int first = 0;

	free(zb->group_rc);
	zb->group_rc = calloc((size_t)zb->n_groups + 1, sizeof(int));
	if (!zb->group_rc)
		return ERR_NOMEM;
	while (first < zb->n) {
		size_t bytes = 0;
		int last = first, rc;
		bool fenced;

		/* Whole groups, within the size limits (at least one). */
		while (last < zb->n) {
			size_t gbytes = 0;
			int end = last;

			while (end < zb->n &&
			       zb->ops[end].group == zb->ops[last].group) {
				gbytes += strlen(zb->ops[end].path) + 16 +
					  (size_t)(zb->ops[end].len > 0
						       ? zb->ops[end].len
						       : 0);
				end++;
			}
			if (last > first && (end - first > MULTI_MAX_OPS ||
					     bytes + gbytes > MULTI_MAX_BYTES))
				break;
			bytes += gbytes;
			last = end;
		}
		rc = run_multi(ctl, zb, first, last, &fenced);
		if (fenced)
			return ERR_FENCED;
		if (zk_rc_is_connection(rc)) {
			log_warn(CTL_FAC, "ZooKeeper write failed: %s",
				 zerror(rc));
			set_groups(zb, first, zb->n, rc);
			return ERR_ZK;
		}
		if (rc == ZOK ||
		    zb->ops[first].group == zb->ops[last - 1].group) {
			set_groups(zb, first, last, rc);
			first = last;
			continue;
		}
		/* Isolate the failing group(s): one multi per group. */
		for (int a = first; a < last;) {
			int b = a;

			while (b < last && zb->ops[b].group == zb->ops[a].group)
				b++;
			rc = run_multi(ctl, zb, a, b, &fenced);
			if (fenced)
				return ERR_FENCED;
			if (zk_rc_is_connection(rc)) {
				set_groups(zb, a, zb->n, rc);
				return ERR_ZK;
			}
			set_groups(zb, a, b, rc);
			a = b;
		}
		first = last;
	}
	return 0;
}

int ctl_zk_one(controller_t *ctl, int type, const char *path, const char *data,
	       int len, int version, bool *fenced)
{
	struct ctl_zbatch zb;
	char *copy = NULL;
	int rc;

	*fenced = false;
	ctl_zb_init(&zb);
	if (data) {
		copy = malloc((size_t)len + 1);
		if (!copy)
			return ZSYSTEMERROR;
		memcpy(copy, data, (size_t)len);
	}
	if (ctl_zb_add(&zb, type, path, copy, len, version) < 0) {
		ctl_zb_free(&zb);
		return ZSYSTEMERROR;
	}
	rc = ctl_zk_run(ctl, &zb);
	if (rc == ERR_FENCED) {
		*fenced = true;
		rc = ZBADVERSION;
	} else if (rc < 0) {
		rc = zb.group_rc ? zb.group_rc[0] : ZSYSTEMERROR;
		if (rc == ZOK)
			rc = ZSYSTEMERROR;
	} else {
		rc = zb.group_rc[0];
	}
	ctl_zb_free(&zb);
	return rc;
}
