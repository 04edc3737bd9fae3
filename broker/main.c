/*
 * main.c - the fluxo-broker command line.
 *
 *   fluxo-broker server.properties [--override key=value]...
 *
 * Loads the configuration (every key through the one settings table, so an
 * unknown key or a bad value stops the start with a sentence naming it),
 * then hands over to broker_run(), which returns when the broker has shut
 * down. Exit status: 0 after a clean shutdown, 1 when the start failed,
 * 2 for a usage error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_conf.h"
#include "broker_main.h"
#include "common/conf.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: fluxo-broker server.properties [--override key=value]...\n"
		"\n"
		"Starts one fluxo broker. server.properties uses Kafka's setting\n"
		"names (broker.id, listeners, log.dirs, zookeeper.connect, ...).\n"
		"\n"
		"Options:\n"
		"  --override key=value  set a setting, overriding the file\n"
		"  --help-config         list every setting with its default\n"
		"  --help                show this help\n"
		"  --version             show the version\n"
		"\n"
		"Signals: SIGTERM or SIGINT shut down cleanly (leadership moves\n"
		"away first when controlled.shutdown.enable=true).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "override", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct broker_conf conf;
	char errstr[1024];
	const char *path;
	char **overrides;
	int n_overrides = 0, opt, rc;

	overrides = calloc((size_t)argc + 1, sizeof(*overrides));
	if (!overrides)
		return 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			overrides[n_overrides++] = optarg;
			break;
		case 'h':
			usage(stdout);
			free(overrides);
			return 0;
		case 'c':
			printf("# fluxo-broker settings (server.properties)\n\n");
			conf_print_doc(broker_conf_table, stdout, true);
			free(overrides);
			return 0;
		case 'V':
			printf("fluxo-broker %s\n", PACKAGE_VERSION);
			free(overrides);
			return 0;
		default:
			fprintf(stderr, "Run fluxo-broker --help for usage.\n");
			free(overrides);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr,
			"fluxo-broker: give exactly one server.properties file\n"
			"Run fluxo-broker --help for usage.\n");
		free(overrides);
		return 2;
	}
	path = argv[optind];

	broker_conf_init(&conf);
	rc = broker_conf_load(&conf, path, errstr, sizeof(errstr));
	for (int i = 0; rc == 0 && i < n_overrides; i++) {
		char buf[4096], *k, *v, why[512];

		if (conf_split_kv(overrides[i], buf, sizeof(buf), &k, &v) < 0) {
			snprintf(errstr, sizeof(errstr),
				 "--override \"%s\" is not key=value",
				 overrides[i]);
			rc = -1;
			break;
		}
		rc = broker_conf_set(&conf, k, v, why, sizeof(why));
		if (rc < 0)
			snprintf(errstr, sizeof(errstr), "--override: %s", why);
	}
	if (rc == 0)
		rc = broker_conf_validate(&conf, errstr, sizeof(errstr));
	free(overrides);
	if (rc < 0) {
		fprintf(stderr, "fluxo-broker: %s\n", errstr);
		broker_conf_free(&conf);
		return 1;
	}
	/* broker_run takes ownership of conf. */
	return broker_run(&conf, path);
}
