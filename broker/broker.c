/*
 * broker.c - start-up, shutdown and the glue between the broker's parts.
 *
 * Start-up order, and why:
 *   1. logging, file-descriptor limit, signal mask (every thread created
 *      later inherits the mask; the main thread alone takes signals);
 *   2. the log manager: takes the .lock of each log dir (a second broker on
 *      the same dirs stops here with a sentence) and recovers logs after an
 *      unclean stop, before anything can be served;
 *   3. the ZooKeeper session and the cluster id (checked against
 *      meta.properties, so a log dir from another cluster is refused);
 *   4. the network: listeners are bound before registration so that the
 *      controller can reach this broker as soon as it sees it;
 *   5. registration in /brokers/ids (the broker epoch), then the
 *      controller election and the config-change watch.
 * "broker N started" is logged last: tests and scripts wait for it.
 *
 * Shutdown (SIGTERM/SIGINT): controlled shutdown first (the controller
 * moves leadership away while this broker still serves), then the
 * controller resigns, the network stops, replica fetchers stop, the
 * admin/control threads drain, the logs are flushed and marked clean, and
 * the ZooKeeper session closes last, which removes the registration.
 */
#include "config.h"
#include "broker_main.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin.h"
#include "broker_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/net.h"
#include "controller_glue.h"
#include "coordinator/registration.h"
#include "coordinator/zk.h"
#include "handlers.h"
#include "metadata_cache.h"
#include "partition.h"
#include "purgatory.h"
#include "replica_glue.h"
#include "server.h"
#include "storage_glue.h"
#include "taskq.h"

const struct broker_conf *broker_conf(const struct broker *b)
{
	return &b->conf;
}

int32_t broker_id(const struct broker *b)
{
	return b->conf.broker_id;
}

void broker_worker_started(struct broker *b, struct worker *w)
{
	(void)b;
	if (purgatory_worker_init(w) < 0)
		fatal("broker", "out of memory");
}

void broker_worker_stopping(struct broker *b, struct worker *w)
{
	(void)b;
	purgatory_worker_destroy(w);
}

int broker_topic_defaults(struct broker *b, struct topic_conf *tc)
{
	int rc;

	pthread_mutex_lock(&b->defaults_lock);
	rc = topic_conf_copy(tc, &b->topic_defaults);
	pthread_mutex_unlock(&b->defaults_lock);
	return rc;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("broker", "cannot raise the open file limit: %s",
				 strerror(errno));
	}
}

/* Fills b->advertised from advertised.listeners (or listeners), replacing
 * an empty or wildcard host with this machine's name. */
static int compute_advertised(struct broker *b, char *errstr,
			      size_t errstr_size)
{
	const char *src = b->conf.advertised_listeners &&
					  *b->conf.advertised_listeners
				  ? b->conf.advertised_listeners
				  : b->conf.listeners;
	char *copy = strdup(src), *save = NULL, *tok;
	int rc = 0;

	if (!copy)
		return ERR_NOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		struct endpoint *ep;

		while (*tok == ' ')
			tok++;
		if (b->n_advertised == BROKER_MAX_ENDPOINTS)
			break;
		ep = &b->advertised[b->n_advertised];
		if (net_parse_listener(tok, ep->name, sizeof(ep->name),
				       ep->host, sizeof(ep->host),
				       &ep->port) < 0) {
			snprintf(errstr, errstr_size, "bad listener \"%s\"",
				 tok);
			rc = ERR_INVAL;
			break;
		}
		if (ep->host[0] == '\0' || strcmp(ep->host, "0.0.0.0") == 0 ||
		    strcmp(ep->host, "::") == 0) {
			if (gethostname(ep->host, sizeof(ep->host)) < 0)
				snprintf(ep->host, sizeof(ep->host),
					 "localhost");
		}
		/* A listener bound to port 0 advertises the real port. */
		if (ep->port == 0 && b->srv)
			ep->port = server_listener_port(b->srv,
							b->n_advertised);
		b->n_advertised++;
	}
	free(copy);
	return rc;
}

/*
 * The ZooKeeper session of this broker's previous run.
 *
 * A broker killed with -9 leaves its /brokers/ids/<id> node behind until
 * its session times out, so a quick restart would find "its" id taken.
 * Each run records its session id and password in the first log dir; the
 * next run, which holds that dir's lock and therefore knows the previous
 * process is gone, reattaches to the old session and closes it, which
 * removes the stale registration at once instead of after
 * zookeeper.session.timeout.ms.
 */
static void session_file(struct broker *b, char *path, size_t size)
{
	const char *dirs = broker_conf_log_dirs(&b->conf);
	size_t n = strcspn(dirs, ",");

	snprintf(path, size, "%.*s/.zk_session", (int)n, dirs);
}

static void save_session(struct broker *b)
{
	char path[4096], tmp[4200];
	clientid_t cid;
	FILE *f;

	if (zk_session_credentials(b->zk, &cid) != ZOK)
		return;
	session_file(b, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%llx ", (unsigned long long)cid.client_id);
	for (size_t i = 0; i < sizeof(cid.passwd); i++)
		fprintf(f, "%02x", (unsigned char)cid.passwd[i]);
	fprintf(f, "\n");
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void close_previous_session(struct broker *b)
{
	char path[4096], hex[2 * sizeof(((clientid_t *)0)->passwd) + 1];
	unsigned long long id = 0;
	clientid_t cid = { 0 };
	zhandle_t *zh;
	FILE *f;
	int64_t deadline;

	session_file(b, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%llx %32s", &id, hex) != 2 ||
	    strlen(hex) != 2 * sizeof(cid.passwd)) {
		fclose(f);
		return;
	}
	fclose(f);
	cid.client_id = (int64_t)id;
	for (size_t i = 0; i < sizeof(cid.passwd); i++) {
		unsigned v = 0;

		sscanf(hex + 2 * i, "%2x", &v);
		cid.passwd[i] = (char)v;
	}
	zh = zookeeper_init(b->conf.zookeeper_connect, NULL,
			    b->conf.zookeeper_session_timeout_ms, &cid, NULL,
			    0);
	if (!zh)
		return;
	deadline = clock_mono_ms() + 3000;
	while (clock_mono_ms() < deadline) {
		int st = zoo_state(zh);

		if (st == ZOO_CONNECTED_STATE) {
			log_info("broker",
				 "closing the ZooKeeper session 0x%llx of this "
				 "broker's previous run",
				 id);
			break;
		}
		if (st == ZOO_EXPIRED_SESSION_STATE ||
		    st == ZOO_AUTH_FAILED_STATE)
			break;
		usleep(10000);
	}
	zookeeper_close(zh);
	unlink(path);
}

static void on_epoch_change(void *arg, int64_t epoch)
{
	struct broker *b = arg;

	if (epoch < 0) {
		log_error("broker",
			  "re-registration in ZooKeeper has not worked yet; "
			  "this broker is invisible to the controller until "
			  "it does (still retrying)");
		return;
	}
	atomic_store(&b->broker_epoch, epoch);
	save_session(b);
	log_info("broker", "broker %d re-registered with epoch %lld",
		 b->conf.broker_id, (long long)epoch);
}

static int register_broker(struct broker *b, char *errstr, size_t errstr_size)
{
	struct zk_broker info = { 0 };
	struct zk_endpoint eps[BROKER_MAX_ENDPOINTS];
	int64_t epoch = -1;
	int rc;

	info.id = b->conf.broker_id;
	info.jmx_port = -1;
	info.port = -1;
	info.rack = b->conf.broker_rack;
	for (int i = 0; i < b->n_advertised; i++) {
		eps[i].listener = b->advertised[i].name;
		eps[i].host = b->advertised[i].host;
		eps[i].port = b->advertised[i].port;
		eps[i].protocol = "PLAINTEXT";
		if (strcmp(b->advertised[i].name, "PLAINTEXT") == 0 &&
		    !info.host) {
			info.host = b->advertised[i].host;
			info.port = b->advertised[i].port;
		}
	}
	info.endpoints = eps;
	info.n_endpoints = b->n_advertised;
	b->reg = registration_new(b->zk, &info, on_epoch_change, b);
	if (!b->reg) {
		snprintf(errstr, errstr_size, "out of memory");
		return ERR_NOMEM;
	}
	rc = registration_register(b->reg, &epoch, errstr, errstr_size);
	if (rc < 0)
		return rc;
	atomic_store(&b->broker_epoch, epoch);
	save_session(b);
	return 0;
}

static volatile sig_atomic_t got_signal;

static int wait_for_signal(const sigset_t *set)
{
	int sig = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			return sig;
		if (sig == SIGHUP)
			log_info("broker",
				 "SIGHUP ignored: change dynamic settings with "
				 "fluxo-configs");
	}
}

static void shutdown_broker(struct broker *b)
{
	atomic_store(&b->stopping, true);
	metrics_glue_stop_serving(b);
	if (b->conf.controlled_shutdown_enable && b->ctl &&
	    atomic_load(&b->broker_epoch) >= 0)
		controller_glue_controlled_shutdown(b);
	controller_glue_stop(b);
	admin_stop_config_watch(b);
	server_stop(b->srv);
	/* The control thread may be applying a LeaderAndIsr (which starts and
	 * stops fetchers): drain it before the fetchers go. */
	taskq_stop(b->admin_q);
	b->admin_q = NULL;
	taskq_stop(b->control_q);
	b->control_q = NULL;
	replica_glue_stop_all(b);
	rm_destroy(b->rm);
	b->rm = NULL;
	storage_glue_close(b);
	if (b->reg) {
		registration_destroy(b->reg);
		b->reg = NULL;
	}
	if (b->zk) {
		zk_session_close(b->zk);
		b->zk = NULL;
	}
	server_destroy(b->srv);
	b->srv = NULL;
	md_cache_destroy(b->md);
	b->md = NULL;
	metrics_glue_stop(b);
}

int broker_run(struct broker_conf *conf, const char *config_path)
{
	struct broker *b;
	struct zk_config zc = { 0 };
	char errstr[1024];
	sigset_t set;
	int sig, rc = 1;

	b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "fluxo-broker: out of memory\n");
		return 1;
	}
	b->conf = *conf;
	b->config_path = strdup(config_path);
	b->broker_epoch = -1;
	b->start_ms = clock_wall_ms();
	pthread_mutex_init(&b->defaults_lock, NULL);
	log_init((enum log_level)b->conf.logger_level, 2);
	broker_conf_warn_ignored(&b->conf);
	broker_conf_topic_defaults(&b->conf, &b->topic_defaults);
	raise_nofile();

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("broker", "fluxo-broker %s starting: broker.id=%d config=%s",
		 PACKAGE_VERSION, b->conf.broker_id, config_path);

	if (storage_glue_open(b, errstr, sizeof(errstr)) < 0) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	close_previous_session(b);
	zc.connect = b->conf.zookeeper_connect;
	zc.session_timeout_ms = b->conf.zookeeper_session_timeout_ms;
	zc.connection_timeout_ms = b->conf.zookeeper_connection_timeout_ms;
	b->zk = zk_session_open(&zc, errstr, sizeof(errstr));
	if (!b->zk) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	if (registration_bootstrap(b->zk, b->cluster_id, sizeof(b->cluster_id),
				   errstr, sizeof(errstr)) < 0 ||
	    storage_glue_check_cluster(b, errstr, sizeof(errstr)) < 0) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}

	b->md = md_cache_new();
	b->rm = rm_new(b);
	b->admin_q = taskq_start("fluxo-admin");
	b->control_q = taskq_start("fluxo-control");
	if (!b->md || !b->rm || !b->admin_q || !b->control_q) {
		log_error("broker", "cannot start: out of memory");
		goto out;
	}
	if (metrics_glue_start(b, errstr, sizeof(errstr)) < 0) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	b->srv = server_new(b, b->conf.listeners,
			    broker_conf_network_threads(&b->conf),
			    broker_handle_request, errstr, sizeof(errstr));
	if (!b->srv) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	if (compute_advertised(b, errstr, sizeof(errstr)) < 0 ||
	    server_start(b->srv) < 0) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	if (replica_glue_start(b, errstr, sizeof(errstr)) < 0 ||
	    register_broker(b, errstr, sizeof(errstr)) < 0 ||
	    controller_glue_start(b, errstr, sizeof(errstr)) < 0 ||
	    admin_start_config_watch(b, errstr, sizeof(errstr)) < 0) {
		log_error("broker", "cannot start: %s", errstr);
		goto out;
	}
	log_info("broker",
		 "broker %d started: cluster %s, epoch %lld, listeners %s, "
		 "%d network threads",
		 b->conf.broker_id, b->cluster_id,
		 (long long)atomic_load(&b->broker_epoch), b->conf.listeners,
		 broker_conf_network_threads(&b->conf));

	sig = wait_for_signal(&set);
	log_info("broker", "broker %d shutting down (signal %d)",
		 b->conf.broker_id, sig);
	rc = 0;
out:
	shutdown_broker(b);
	if (rc == 0)
		log_info("broker", "broker %d stopped cleanly",
			 b->conf.broker_id);
	topic_conf_free(&b->topic_defaults);
	broker_conf_free(&b->conf);
	free(b->config_path);
	pthread_mutex_destroy(&b->defaults_lock);
	free(b);
	return rc;
}
