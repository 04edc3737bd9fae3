/*
 * taskq.c - a FIFO of closures drained by one thread.
 */
#include "config.h"
#include "taskq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct task {
	struct task *next;
	void (*fn)(void *arg);
	void *arg;
};

struct taskq {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *head, *tail;
	bool stopping;
	char name[16];
};

static void *taskq_main(void *arg)
{
	struct taskq *q = arg;

	pthread_setname_np(pthread_self(), q->name);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct task *t;

		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->cond, &q->lock);
		t = q->head;
		if (!t)
			break;
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		t->fn(t->arg);
		free(t);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct taskq *taskq_start(const char *name)
{
	struct taskq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	snprintf(q->name, sizeof(q->name), "%s", name);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	if (pthread_create(&q->thread, NULL, taskq_main, q) != 0) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->cond);
		free(q);
		return NULL;
	}
	return q;
}

int taskq_post(struct taskq *q, void (*fn)(void *arg), void *arg)
{
	struct task *t;

	if (!q)
		return ERR_CLOSED;
	t = malloc(sizeof(*t));
	if (!t)
		return ERR_NOMEM;
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		free(t);
		return ERR_CLOSED;
	}
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void taskq_stop(struct taskq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}
