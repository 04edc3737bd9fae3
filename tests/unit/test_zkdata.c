/*
 * test_zkdata.c - znode paths and JSON codecs against Kafka's documents.
 *
 * Every decoder is fed Kafka's own example JSON (from ZkData.scala's
 * comments and a real 2.8 cluster) and must read the same values; every
 * encoder must write the exact text Kafka's tools read; and every decoder
 * must refuse broken input with a sentence, including every truncation of
 * a valid document.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/zkdata.h"

static char errstr[512];

#define DEC_OK(rc) ck_assert_msg((rc) == 0, "decode failed: %s", errstr)

START_TEST(test_paths)
{
	char p[ZKPATH_MAX], small[8];

	ck_assert_int_gt(zkpath_broker(p, sizeof(p), 3), 0);
	ck_assert_str_eq(p, "/brokers/ids/3");
	zkpath_topic(p, sizeof(p), "orders");
	ck_assert_str_eq(p, "/brokers/topics/orders");
	zkpath_partitions(p, sizeof(p), "orders");
	ck_assert_str_eq(p, "/brokers/topics/orders/partitions");
	zkpath_partition(p, sizeof(p), "orders", 7);
	ck_assert_str_eq(p, "/brokers/topics/orders/partitions/7");
	zkpath_partition_state(p, sizeof(p), "orders", 7);
	ck_assert_str_eq(p, "/brokers/topics/orders/partitions/7/state");
	zkpath_config(p, sizeof(p), "topics", "orders");
	ck_assert_str_eq(p, "/config/topics/orders");
	zkpath_config(p, sizeof(p), "brokers", "<default>");
	ck_assert_str_eq(p, "/config/brokers/<default>");
	zkpath_delete_topic(p, sizeof(p), "orders");
	ck_assert_str_eq(p, "/admin/delete_topics/orders");
	ck_assert_int_eq(zkpath_topic(small, sizeof(small), "orders"),
			 ERR_TOO_LARGE);
	ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_broker_v4_kafka_example)
{
	const char *js =
	    "{\"version\":4,\"host\":\"localhost\",\"port\":9092,"
	    "\"jmx_port\":9999,\"timestamp\":\"2233345666\","
	    "\"endpoints\":[\"CLIENT://host1:9092\", "
	    "\"REPLICATION://host1:9093\"],"
	    "\"listener_security_protocol_map\":{\"CLIENT\":\"SSL\", "
	    "\"REPLICATION\":\"PLAINTEXT\"},\"rack\":\"dc1\"}";
	struct zk_broker b = {0};
	const struct zk_endpoint *e;

	DEC_OK(
	    zkdata_broker_decode(js, strlen(js), &b, errstr, sizeof(errstr)));
	ck_assert_int_eq(b.version, 4);
	ck_assert_str_eq(b.host, "localhost");
	ck_assert_int_eq(b.port, 9092);
	ck_assert_int_eq(b.jmx_port, 9999);
	ck_assert_int_eq(b.timestamp, 2233345666LL);
	ck_assert_str_eq(b.rack, "dc1");
	ck_assert_int_eq(b.n_endpoints, 2);
	e = zkdata_broker_endpoint(&b, "CLIENT");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->host, "host1");
	ck_assert_int_eq(e->port, 9092);
	ck_assert_str_eq(e->protocol, "SSL");
	e = zkdata_broker_endpoint(&b, "REPLICATION");
	ck_assert_int_eq(e->port, 9093);
	ck_assert_str_eq(e->protocol, "PLAINTEXT");
	ck_assert_ptr_null(zkdata_broker_endpoint(&b, "PLAINTEXT"));
	zkdata_broker_free(&b);
}
END_TEST

START_TEST(test_broker_old_versions)
{
	const char *v2 = "{\"version\":2,\"host\":\"localhost\",\"port\":9092,"
			 "\"jmx_port\":9999,\"timestamp\":\"2233345666\","
			 "\"endpoints\":[\"PLAINTEXT://host1:9092\", "
			 "\"SSL://host1:9093\"]}";
	const char *v1 = "{\"version\":1,\"host\":\"localhost\",\"port\":9092,"
			 "\"jmx_port\":9999,\"timestamp\":\"2233345666\"}";
	struct zk_broker b = {0};

	DEC_OK(
	    zkdata_broker_decode(v2, strlen(v2), &b, errstr, sizeof(errstr)));
	ck_assert_int_eq(b.n_endpoints, 2);
	ck_assert_str_eq(zkdata_broker_endpoint(&b, "SSL")->protocol, "SSL");
	ck_assert_ptr_null(b.rack);
	zkdata_broker_free(&b);

	DEC_OK(
	    zkdata_broker_decode(v1, strlen(v1), &b, errstr, sizeof(errstr)));
	ck_assert_int_eq(b.n_endpoints, 1);
	ck_assert_str_eq(b.endpoints[0].listener, "PLAINTEXT");
	ck_assert_str_eq(b.endpoints[0].host, "localhost");
	ck_assert_int_eq(b.endpoints[0].port, 9092);
	zkdata_broker_free(&b);
}
END_TEST

START_TEST(test_broker_encode)
{
	struct zk_endpoint eps[2] = {
	    {"PLAINTEXT", "h1", 9092, "PLAINTEXT"},
	    {"INTERNAL", "::1", 9093, "SSL"},
	};
	struct zk_broker b = {.id = 1,
			      .jmx_port = -1,
			      .timestamp = 1612345678901LL,
			      .endpoints = eps,
			      .n_endpoints = 2,
			      .rack = "r1"};
	struct zk_broker d = {0};
	char *js = zkdata_broker_encode(&b);

	ck_assert_ptr_nonnull(js);
	ck_assert_str_eq(
	    js, "{\"version\":4,\"host\":\"h1\",\"port\":9092,"
		"\"jmx_port\":-1,\"timestamp\":\"1612345678901\","
		"\"endpoints\":[\"PLAINTEXT://h1:9092\","
		"\"INTERNAL://[::1]:9093\"],"
		"\"listener_security_protocol_map\":{\"PLAINTEXT\":"
		"\"PLAINTEXT\",\"INTERNAL\":\"SSL\"},\"rack\":\"r1\"}");
	DEC_OK(
	    zkdata_broker_decode(js, strlen(js), &d, errstr, sizeof(errstr)));
	ck_assert_str_eq(zkdata_broker_endpoint(&d, "INTERNAL")->host, "::1");
	ck_assert_str_eq(zkdata_broker_endpoint(&d, "INTERNAL")->protocol,
			 "SSL");
	zkdata_broker_free(&d);
	free(js);

	/* No PLAINTEXT listener: host null, port -1, as Kafka writes. */
	b.endpoints = &eps[1];
	b.n_endpoints = 1;
	b.rack = NULL;
	js = zkdata_broker_encode(&b);
	ck_assert_ptr_nonnull(strstr(js, "\"host\":null,\"port\":-1"));
	ck_assert_ptr_null(strstr(js, "rack"));
	free(js);
}
END_TEST

START_TEST(test_topic_versions)
{
	const char *v1 = "{\"version\":1,\"partitions\":{\"0\":[1,2,3],"
			 "\"1\":[2,3,1]}}";
	const char *v2 = "{\"version\":2,\"partitions\":{\"0\":[1,2,3,4]},"
			 "\"adding_replicas\":{\"0\":[4]},"
			 "\"removing_replicas\":{\"0\":[1]}}";
	const char *v3 =
	    "{\"version\":3,\"topic_id\":\"vHo2b1bXQmePzwVA4qYn2A\","
	    "\"partitions\":{\"0\":[0]},\"adding_replicas\":{},"
	    "\"removing_replicas\":{}}";
	const char *orig =
	    "{\"version\":2,\"partitions\":{\"0\":[5],\"1\":[2,3,1]},"
	    "\"adding_replicas\":{\"1\":[3]},\"removing_replicas\":{\"1\":[1]},"
	    "\"original_replicas\":{\"1\":[1,2]}}";
	struct zk_topic_assign a;
	char *js;

	DEC_OK(zkdata_topic_decode(v1, strlen(v1), &a, errstr, sizeof(errstr)));
	ck_assert_int_eq(a.n_partitions, 2);
	ck_assert_int_eq(a.replicas[1].n, 3);
	ck_assert_int_eq(a.replicas[1].ids[0], 2);
	ck_assert_int_eq(a.replicas[1].ids[2], 1);
	ck_assert_int_eq(a.adding[0].n, 0);
	js = zkdata_topic_encode(&a);
	ck_assert_str_eq(js, "{\"version\":2,\"partitions\":{\"0\":[1,2,3],"
			     "\"1\":[2,3,1]},\"adding_replicas\":{},"
			     "\"removing_replicas\":{}}");
	free(js);
	zkdata_topic_free(&a);

	DEC_OK(zkdata_topic_decode(v2, strlen(v2), &a, errstr, sizeof(errstr)));
	ck_assert_int_eq(a.adding[0].n, 1);
	ck_assert_int_eq(a.adding[0].ids[0], 4);
	ck_assert_int_eq(a.removing[0].ids[0], 1);
	js = zkdata_topic_encode(&a);
	ck_assert_str_eq(js, v2);
	free(js);
	zkdata_topic_free(&a);

	DEC_OK(zkdata_topic_decode(v3, strlen(v3), &a, errstr, sizeof(errstr)));
	ck_assert_str_eq(a.topic_id, "vHo2b1bXQmePzwVA4qYn2A");
	js = zkdata_topic_encode(&a);
	ck_assert_str_eq(js, v3);
	free(js);
	zkdata_topic_free(&a);

	/* fluxo's original_replicas: kept, and left out when empty. */
	DEC_OK(zkdata_topic_decode(orig, strlen(orig), &a, errstr,
				   sizeof(errstr)));
	ck_assert_int_eq(a.original[0].n, 0);
	ck_assert_int_eq(a.original[1].n, 2);
	ck_assert_int_eq(a.original[1].ids[0], 1);
	ck_assert_int_eq(a.original[1].ids[1], 2);
	js = zkdata_topic_encode(&a);
	ck_assert_str_eq(js, orig);
	free(js);
	zkdata_replicas_set(&a.original[1], NULL, 0);
	js = zkdata_topic_encode(&a);
	ck_assert_ptr_null(strstr(js, "original"));
	free(js);
	zkdata_topic_free(&a);
}
END_TEST

START_TEST(test_topic_bad)
{
	static const char *const bad[] = {
	    "{\"version\":2,\"partitions\":{\"0\":[1],\"2\":[1]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[1,1]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[]}}",
	    "{\"version\":2,\"partitions\":{\"00\":[1]}}",
	    "{\"version\":2,\"partitions\":{\"-1\":[1]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[\"1\"]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[-3]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[4294967296]}}",
	    "{\"version\":2,\"partitions\":{}}",
	    "{\"version\":2,\"partitions\":[1]}",
	    "{\"version\":9,\"partitions\":{\"0\":[1]}}",
	    "{\"partitions\":{\"0\":[1]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[1]},"
	    "\"adding_replicas\":{\"1\":[2]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[1]},"
	    "\"original_replicas\":{\"0\":[2,2]}}",
	    "{\"version\":2,\"partitions\":{\"0\":[1]},\"partitions\":{}}",
	    "[1,2]",
	    "",
	    "\x01\x02garbage",
	};
	struct zk_topic_assign a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errstr[0] = '\0';
		ck_assert_msg(zkdata_topic_decode(bad[i], strlen(bad[i]), &a,
						  errstr, sizeof(errstr)) ==
				  ERR_CORRUPT,
			      "accepted bad document %zu", i);
		ck_assert_msg(strlen(errstr) > 10, "no sentence for %zu", i);
		ck_assert_ptr_null(a.replicas);
	}
}
END_TEST

START_TEST(test_state)
{
	const char *js = "{\"version\":1,\"leader\":1,\"leader_epoch\":4,"
			 "\"controller_epoch\":17,\"isr\":[1,2,3]}";
	struct zk_partition_state s;
	char *out;

	DEC_OK(zkdata_state_decode(js, strlen(js), &s, errstr, sizeof(errstr)));
	ck_assert_int_eq(s.leader, 1);
	ck_assert_int_eq(s.leader_epoch, 4);
	ck_assert_int_eq(s.controller_epoch, 17);
	ck_assert_int_eq(s.n_isr, 3);
	ck_assert_int_eq(s.isr[2], 3);
	out = zkdata_state_encode(&s);
	/* The key order of a real Kafka 2.8 state znode. */
	ck_assert_str_eq(out, "{\"controller_epoch\":17,\"leader\":1,"
			      "\"version\":1,\"leader_epoch\":4,"
			      "\"isr\":[1,2,3]}");
	free(out);
	zkdata_state_free(&s);

	js = "{\"version\":1,\"leader\":-1,\"leader_epoch\":5,"
	     "\"controller_epoch\":2,\"isr\":[]}";
	DEC_OK(zkdata_state_decode(js, strlen(js), &s, errstr, sizeof(errstr)));
	ck_assert_int_eq(s.leader, -1);
	ck_assert_int_eq(s.n_isr, 0);
	zkdata_state_free(&s);

	js = "{\"version\":1,\"leader\":-2,\"leader_epoch\":5,"
	     "\"controller_epoch\":2,\"isr\":[1]}";
	ck_assert_int_eq(
	    zkdata_state_decode(js, strlen(js), &s, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	js = "{\"version\":1,\"leader\":1,\"leader_epoch\":5,"
	     "\"controller_epoch\":2}";
	ck_assert_int_eq(
	    zkdata_state_decode(js, strlen(js), &s, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_str_eq(errstr, "partition state: isr is not a list");
	js = "{\"version\":1,\"leader\":1.5,\"leader_epoch\":5,"
	     "\"controller_epoch\":2,\"isr\":[1]}";
	ck_assert_int_eq(
	    zkdata_state_decode(js, strlen(js), &s, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_str_eq(errstr,
			 "partition state: \"leader\" is not an integer");
}
END_TEST

START_TEST(test_controller_and_epoch)
{
	const char *js = "{\"version\":1,\"brokerid\":2,"
			 "\"timestamp\":\"1612345678901\"}";
	int32_t id = -1, epoch = -1;
	char *out;

	DEC_OK(zkdata_controller_decode(js, strlen(js), &id, errstr,
					sizeof(errstr)));
	ck_assert_int_eq(id, 2);
	out = zkdata_controller_encode(2, 1612345678901LL);
	ck_assert_str_eq(out, js);
	free(out);
	DEC_OK(zkdata_epoch_decode("17", 2, &epoch, errstr, sizeof(errstr)));
	ck_assert_int_eq(epoch, 17);
	ck_assert_int_eq(
	    zkdata_epoch_decode("17x", 3, &epoch, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_int_eq(
	    zkdata_epoch_decode("", 0, &epoch, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_int_eq(
	    zkdata_epoch_decode("-1", 2, &epoch, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_int_eq(zkdata_controller_decode("{\"version\":1}", 13, &id,
						  errstr, sizeof(errstr)),
			 ERR_CORRUPT);
	ck_assert_str_eq(errstr, "/controller has no \"brokerid\"");
}
END_TEST

START_TEST(test_cluster_id)
{
	const char *js =
	    "{\"version\":\"1\",\"id\":\"Mb3vVfJ4QzWL0Zy8DkPq2w\"}";
	char id[64];
	char *out;

	DEC_OK(zkdata_cluster_id_decode(js, strlen(js), id, sizeof(id), errstr,
					sizeof(errstr)));
	ck_assert_str_eq(id, "Mb3vVfJ4QzWL0Zy8DkPq2w");
	out = zkdata_cluster_id_encode(id);
	ck_assert_str_eq(out, js);
	free(out);
	ck_assert_int_eq(zkdata_cluster_id_decode(js, strlen(js), id, 8, errstr,
						  sizeof(errstr)),
			 ERR_CORRUPT);
}
END_TEST

START_TEST(test_config)
{
	const char *js = "{\"version\":1,\"config\":{\"retention.ms\":"
			 "\"86400000\",\"cleanup.policy\":\"delete\"}}";
	struct zk_entity_config c;
	char *out;

	DEC_OK(
	    zkdata_config_decode(js, strlen(js), &c, errstr, sizeof(errstr)));
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(zkdata_config_get(&c, "retention.ms"), "86400000");
	ck_assert_ptr_null(zkdata_config_get(&c, "segment.ms"));
	ck_assert_int_eq(zkdata_config_set(&c, "retention.ms", "1000"), 0);
	ck_assert(zkdata_config_remove(&c, "cleanup.policy"));
	ck_assert(!zkdata_config_remove(&c, "cleanup.policy"));
	ck_assert_int_eq(zkdata_config_set(&c, "segment.ms", "5"), 0);
	out = zkdata_config_encode(&c);
	ck_assert_str_eq(out, "{\"version\":1,\"config\":{\"retention.ms\":"
			      "\"1000\",\"segment.ms\":\"5\"}}");
	free(out);
	zkdata_config_free(&c);

	js = "{\"version\":1,\"config\":{\"retention.ms\":86400000}}";
	ck_assert_int_eq(
	    zkdata_config_decode(js, strlen(js), &c, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	ck_assert_str_eq(errstr, "entity config: the value of "
				 "\"retention.ms\" is not a string");
}
END_TEST

START_TEST(test_config_change)
{
	const char *v2 = "{\"version\":2,\"entity_path\":\"topics/foo\"}";
	const char *v1 = "{\"version\":1,\"entity_type\":\"brokers\","
			 "\"entity_name\":\"<default>\"}";
	char type[32], name[256];
	char *out;

	DEC_OK(zkdata_config_change_decode(v2, strlen(v2), type, sizeof(type),
					   name, sizeof(name), errstr,
					   sizeof(errstr)));
	ck_assert_str_eq(type, "topics");
	ck_assert_str_eq(name, "foo");
	DEC_OK(zkdata_config_change_decode(v1, strlen(v1), type, sizeof(type),
					   name, sizeof(name), errstr,
					   sizeof(errstr)));
	ck_assert_str_eq(type, "brokers");
	ck_assert_str_eq(name, "<default>");
	out = zkdata_config_change_encode("topics", "foo");
	ck_assert_str_eq(out, v2);
	free(out);
	out = "{\"version\":2,\"entity_path\":\"topicsfoo\"}";
	ck_assert_int_eq(zkdata_config_change_decode(
			     out, strlen(out), type, sizeof(type), name,
			     sizeof(name), errstr, sizeof(errstr)),
			 ERR_CORRUPT);
}
END_TEST

START_TEST(test_admin_docs)
{
	const char *re = "{\"version\":1,\"partitions\":[{\"topic\":\"foo\","
			 "\"partition\":0,\"replicas\":[4,5,6],"
			 "\"log_dirs\":[\"any\",\"any\",\"any\"]}]}";
	const char *pe =
	    "{\"version\":1,\"partitions\":[{\"topic\":\"foo\","
	    "\"partition\":0},{\"topic\":\"bar\",\"partition\":3}]}";
	struct zk_reassign_list rl;
	struct zk_tp_list tl;
	char *out;

	DEC_OK(zkdata_reassign_decode(re, strlen(re), &rl, errstr,
				      sizeof(errstr)));
	ck_assert_int_eq(rl.n, 1);
	ck_assert_str_eq(rl.v[0].topic, "foo");
	ck_assert_int_eq(rl.v[0].replicas.n, 3);
	ck_assert_int_eq(rl.v[0].replicas.ids[2], 6);
	out = zkdata_reassign_encode(&rl);
	ck_assert_str_eq(out, re);
	free(out);
	zkdata_reassign_free(&rl);

	DEC_OK(zkdata_preferred_decode(pe, strlen(pe), &tl, errstr,
				       sizeof(errstr)));
	ck_assert_int_eq(tl.n, 2);
	ck_assert_str_eq(tl.v[1].topic, "bar");
	ck_assert_int_eq(tl.v[1].partition, 3);
	out = zkdata_preferred_encode(&tl);
	ck_assert_str_eq(out, pe);
	free(out);
	zkdata_tp_list_free(&tl);

	pe = "{\"version\":1,\"partitions\":[{\"topic\":\"foo\"}]}";
	ck_assert_int_eq(zkdata_preferred_decode(pe, strlen(pe), &tl, errstr,
						 sizeof(errstr)),
			 ERR_CORRUPT);
	ck_assert_str_eq(errstr, "preferred replica election entry 0 has no "
				 "\"partition\"");
}
END_TEST

START_TEST(test_pid_block)
{
	const char *js = "{\"version\":1,\"broker\":2,\"block_start\":\"5000\","
			 "\"block_end\":\"5999\"}";
	struct zk_pid_block b;
	char *out;

	DEC_OK(zkdata_pid_block_decode(js, strlen(js), &b, errstr,
				       sizeof(errstr)));
	ck_assert_int_eq(b.broker, 2);
	ck_assert_int_eq(b.start, 5000);
	ck_assert_int_eq(b.end, 5999);
	out = zkdata_pid_block_encode(&b);
	ck_assert_str_eq(out, js);
	free(out);
	js = "{\"version\":1,\"broker\":2,\"block_start\":\"5000\","
	     "\"block_end\":\"4999\"}";
	ck_assert_int_eq(
	    zkdata_pid_block_decode(js, strlen(js), &b, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
	js = "{\"version\":1,\"broker\":2,\"block_start\":\"50x0\","
	     "\"block_end\":\"5999\"}";
	ck_assert_int_eq(
	    zkdata_pid_block_decode(js, strlen(js), &b, errstr, sizeof(errstr)),
	    ERR_CORRUPT);
}
END_TEST

/* Every prefix of a valid document is refused without a crash. */
START_TEST(test_truncations)
{
	static const char *const docs[] = {
	    "{\"version\":4,\"host\":\"h\",\"port\":9092,\"jmx_port\":-1,"
	    "\"timestamp\":\"1\",\"endpoints\":[\"PLAINTEXT://h:9092\"],"
	    "\"listener_security_protocol_map\":{\"PLAINTEXT\":"
	    "\"PLAINTEXT\"},\"rack\":\"r\"}",
	    "{\"version\":2,\"partitions\":{\"0\":[1,2],\"1\":[2,1]},"
	    "\"adding_replicas\":{},\"removing_replicas\":{}}",
	    "{\"controller_epoch\":1,\"leader\":0,\"version\":1,"
	    "\"leader_epoch\":0,\"isr\":[0]}",
	    "{\"version\":1,\"config\":{\"a\":\"b\"}}",
	    "{\"version\":1,\"partitions\":[{\"topic\":\"foo\","
	    "\"partition\":0,\"replicas\":[4,5,6]}]}",
	};

	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		size_t len = strlen(docs[d]);

		for (size_t cut = 0; cut < len; cut++) {
			char *copy = malloc(cut + 1);
			struct zk_broker b = {0};
			struct zk_topic_assign a;
			struct zk_partition_state s;
			struct zk_entity_config c;
			struct zk_reassign_list r;

			memcpy(copy, docs[d], cut);
			copy[cut] = '\0';
			ck_assert_int_lt(zkdata_broker_decode(copy, cut, &b,
							      errstr,
							      sizeof(errstr)),
					 0);
			ck_assert_int_lt(zkdata_topic_decode(copy, cut, &a,
							     errstr,
							     sizeof(errstr)),
					 0);
			ck_assert_int_lt(zkdata_state_decode(copy, cut, &s,
							     errstr,
							     sizeof(errstr)),
					 0);
			ck_assert_int_lt(zkdata_config_decode(copy, cut, &c,
							      errstr,
							      sizeof(errstr)),
					 0);
			ck_assert_int_lt(zkdata_reassign_decode(copy, cut, &r,
								errstr,
								sizeof(errstr)),
					 0);
			free(copy);
		}
	}
}
END_TEST

static Suite *zkdata_suite(void)
{
	Suite *s = suite_create("zkdata");
	TCase *tc = tcase_create("codecs");

	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_broker_v4_kafka_example);
	tcase_add_test(tc, test_broker_old_versions);
	tcase_add_test(tc, test_broker_encode);
	tcase_add_test(tc, test_topic_versions);
	tcase_add_test(tc, test_topic_bad);
	tcase_add_test(tc, test_state);
	tcase_add_test(tc, test_controller_and_epoch);
	tcase_add_test(tc, test_cluster_id);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_config_change);
	tcase_add_test(tc, test_admin_docs);
	tcase_add_test(tc, test_pid_block);
	tcase_add_test(tc, test_truncations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zkdata_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
