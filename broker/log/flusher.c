/*
 * flusher.c - group commit: one thread per log directory that fsyncs the
 * partitions queued on it.
 *
 * The queue is an intrusive singly linked list through plog->flush_next;
 * plog->flush_queued (an atomic flag) guarantees a partition is on at most
 * one queue once, and each queued partition holds a reference. The thread
 * takes the whole list at once, clears each partition's flag just before
 * flushing it (so a request arriving during the fsync requeues it), and
 * calls plog_flush_queued(), which fdatasyncs up to the LEO of that moment.
 * Order within a batch of partitions is FIFO.
 *
 * Thread: the flusher thread runs plog_flush_queued; producers of requests
 * only take fl->lock to push and signal.
 */
#include "config.h"
#include "broker/log/flusher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/log/log_int.h"
#include "common/err.h"
#include "common/log.h"

struct flusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct plog *head;
	struct plog *tail;
	bool stop;
	_Atomic uint64_t passes;
	char *name;
};

void flusher_enqueue(struct flusher *fl, struct plog *plog)
{
	plog_ref(plog);
	pthread_mutex_lock(&fl->lock);
	plog->flush_next = NULL;
	if (fl->tail)
		fl->tail->flush_next = plog;
	else
		fl->head = plog;
	fl->tail = plog;
	pthread_cond_signal(&fl->cond);
	pthread_mutex_unlock(&fl->lock);
}

static void run_list(struct flusher *fl, struct plog *p)
{
	while (p) {
		struct plog *next = p->flush_next;

		p->flush_next = NULL;
		atomic_store(&p->flush_queued, false);
		plog_flush_queued(p);
		atomic_fetch_add(&fl->passes, 1);
		plog_unref(p);
		p = next;
	}
}

static void *flusher_main(void *arg)
{
	struct flusher *fl = arg;

	pthread_mutex_lock(&fl->lock);
	for (;;) {
		struct plog *list;

		while (!fl->head && !fl->stop)
			pthread_cond_wait(&fl->cond, &fl->lock);
		if (!fl->head && fl->stop)
			break;
		list = fl->head;
		fl->head = fl->tail = NULL;
		pthread_mutex_unlock(&fl->lock);
		run_list(fl, list);
		pthread_mutex_lock(&fl->lock);
	}
	pthread_mutex_unlock(&fl->lock);
	return NULL;
}

struct flusher *flusher_start(const char *name, int *err)
{
	struct flusher *fl = calloc(1, sizeof(*fl));

	if (!fl || !(fl->name = strdup(name))) {
		free(fl);
		*err = ERR_NOMEM;
		return NULL;
	}
	pthread_mutex_init(&fl->lock, NULL);
	pthread_cond_init(&fl->cond, NULL);
	if (pthread_create(&fl->thread, NULL, flusher_main, fl) != 0) {
		log_error(LOG_FAC, "cannot start the flusher of %s", name);
		pthread_cond_destroy(&fl->cond);
		pthread_mutex_destroy(&fl->lock);
		free(fl->name);
		free(fl);
		*err = ERR_IO;
		return NULL;
	}
	return fl;
}

void flusher_stop(struct flusher *fl)
{
	if (!fl)
		return;
	pthread_mutex_lock(&fl->lock);
	fl->stop = true;
	pthread_cond_signal(&fl->cond);
	pthread_mutex_unlock(&fl->lock);
	pthread_join(fl->thread, NULL);
	pthread_cond_destroy(&fl->cond);
	pthread_mutex_destroy(&fl->lock);
	free(fl->name);
	free(fl);
}

uint64_t flusher_passes(struct flusher *fl)
{
	return atomic_load(&fl->passes);
}
