/*
 * broker_main.h - the broker's entry point after the command line.
 */
#ifndef FLUXO_BROKER_MAIN_H
#define FLUXO_BROKER_MAIN_H

#include "broker_conf.h"

/*
 * Runs a broker until SIGTERM/SIGINT. Takes ownership of conf (a struct
 * copy is kept; the caller must not free it). Returns the process exit
 * status: 0 after a clean shutdown, 1 when the start failed.
 */
int broker_run(struct broker_conf *conf, const char *config_path);

#endif
