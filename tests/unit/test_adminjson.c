/*
 * test_adminjson.c - the admin tools' JSON files (tools/adminjson.c):
 * Kafka's election, topics-to-move and reassignment formats parsed with
 * their checks and messages, the reassignment JSON written byte for byte
 * as Kafka writes it, and the partition list helpers.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "tools/adminjson.h"

static char err[512];

START_TEST(test_election_file)
{
	struct tp_list l;

	ck_assert_int_eq(election_json_parse(
			     "{\"partitions\":\n\t[{\"topic\": \"foo\", "
			     "\"partition\": 1},\n\t {\"topic\": \"foobar\", "
			     "\"partition\": 2}, {\"topic\": \"a\", "
			     "\"partition\": 0}]\n}",
			     &l, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.v[0].topic, "foo");
	ck_assert_int_eq(l.v[0].partition, 1);
	ck_assert_str_eq(l.v[1].topic, "foobar");
	tp_list_sort(&l);
	ck_assert_str_eq(l.v[0].topic, "a");
	ck_assert_str_eq(l.v[2].topic, "foobar");
	tp_list_free(&l);

	ck_assert_int_eq(
	    election_json_parse("{\"partitions\":[]}", &l, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(l.n, 0);
	tp_list_free(&l);
}
END_TEST

START_TEST(test_election_file_errors)
{
	struct tp_list l;

	ck_assert_int_eq(
	    election_json_parse("{\"partition\":[]}", &l, err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_str_eq(err, "Replica election data is missing "
			      "\"partitions\" field");
	ck_assert_int_eq(
	    election_json_parse(
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":1},"
		"{\"topic\":\"t\",\"partition\":1}]}",
		&l, err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_str_eq(err, "Replica election data contains duplicate "
			      "partitions: t-1");
	ck_assert_int_eq(
	    election_json_parse(
		"{\"partitions\":[{\"topic\":\"t\",\"partition\":-1}]}", &l,
		err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "entry 0"));
	ck_assert_int_eq(election_json_parse(
			     "{\"partitions\":[{\"topic\":\"t\",\"partition\":"
			     "\"1\"}]}",
			     &l, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_int_eq(
	    election_json_parse(
		"{\"partitions\":[{\"topic\":\"\",\"partition\":1}]}", &l, err,
		sizeof(err)),
	    ERR_INVAL);
	ck_assert_int_eq(
	    election_json_parse("{\"partitions\":[", &l, err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "is not valid JSON"));
	ck_assert_int_eq(election_json_parse("[1,2]", &l, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "must be a JSON object"));
	ck_assert_int_eq(election_json_parse(
			     "{\"partitions\":[{\"topic\":\"t\",\"partition\":"
			     "4294967296}]}",
			     &l, err, sizeof(err)),
			 ERR_INVAL);
}
END_TEST

START_TEST(test_topics_file)
{
	char **names;
	size_t n;

	ck_assert_int_eq(topics_json_parse("{\"topics\": [{\"topic\": "
					   "\"foo1\"}, {\"topic\": \"foo2\"}], "
					   "\"version\": 1}",
					   &names, &n, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "foo1");
	ck_assert_str_eq(names[1], "foo2");
	names_free(names, n);
	ck_assert_int_eq(topics_json_parse("{\"topics\":[{\"topic\":\"a\"},"
					   "{\"topic\":\"a\"}]}",
					   &names, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_str_eq(err, "List of topics to reassign contains duplicate "
			      "entries: a");
	ck_assert_int_eq(
	    topics_json_parse("{\"topics\":[]}", &names, &n, err, sizeof(err)),
	    ERR_INVAL);
	ck_assert_int_eq(topics_json_parse("{\"topics\":[{\"name\":\"a\"}]}",
					   &names, &n, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_ptr_null(names);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_reassignment_file)
{
	struct move_list l;
	const struct move *m;

	ck_assert_int_eq(
	    reassign_json_parse(
		"{\"version\":1,\"partitions\":[{\"topic\":\"foo\","
		"\"partition\":1,\"replicas\":[3,1],\"log_dirs\":[\"any\","
		"\"any\"]},{\"topic\":\"foo\",\"partition\":0,\"replicas\":"
		"[2]}]}",
		&l, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(l.n, 2);
	m = move_list_find(&l, "foo", 1);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->n_replicas, 2);
	ck_assert_int_eq(m->replicas[0], 3);
	ck_assert_int_eq(m->replicas[1], 1);
	ck_assert_ptr_null(move_list_find(&l, "foo", 2));
	move_list_sort(&l);
	ck_assert_int_eq(l.v[0].partition, 0);
	move_list_free(&l);
}
END_TEST

static void bad_reassign(const char *json, const char *msg)
{
	struct move_list l;

	ck_assert_int_eq(reassign_json_parse(json, &l, err, sizeof(err)),
			 ERR_INVAL);
	ck_assert_msg(strstr(err, msg) != NULL, "'%s' lacks '%s'", err, msg);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_ptr_null(l.v);
}

START_TEST(test_reassignment_file_errors)
{
	bad_reassign("{\"version\":1,\"partitions\":[]}",
		     "Partition reassignment list cannot be empty");
	bad_reassign("{\"version\":1}", "missing \"partitions\"");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[]}]}",
		     "Partition replica list cannot be empty");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[1]},{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[2]}]}",
		     "Partition reassignment contains duplicate topic "
		     "partitions: t-0");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[1,2,1]}]}",
		     "Partition replica lists may not contain duplicate "
		     "entries: t-0 contains multiple entries for 1");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[1,2],\"log_dirs\":[\"any\"]}]}",
		     "Size of replicas list is different from size of log "
		     "dirs list for partition t-0");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[1],\"log_dirs\":[\"/data\"]}]}",
		     "log_dirs other than \"any\" are not supported");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
		     "\"replicas\":[1,\"2\"]}]}",
		     "t-0: replica 1 is not a broker id");
	bad_reassign("{\"partitions\":[{\"topic\":\"t\",\"replicas\":[1]}]}",
		     "entry 0 needs");
}
END_TEST

START_TEST(test_reassignment_format)
{
	struct move_list l = {0};
	const int32_t r0[] = {1, 2}, r1[] = {3};
	char *s;

	s = reassign_json_format(&l);
	ck_assert_str_eq(s, "{\"version\":1,\"partitions\":[]}");
	free(s);
	ck_assert_int_eq(move_list_add(&l, "foo", 0, r0, 2), 0);
	ck_assert_int_eq(move_list_add(&l, "b\"ar", 1, r1, 1), 0);
	s = reassign_json_format(&l);
	ck_assert_str_eq(
	    s,
	    "{\"version\":1,\"partitions\":[{\"topic\":\"foo\",\"partition\":"
	    "0,\"replicas\":[1,2],\"log_dirs\":[\"any\",\"any\"]},{\"topic\":"
	    "\"b\\\"ar\",\"partition\":1,\"replicas\":[3],\"log_dirs\":"
	    "[\"any\"]}]}");
	/* What is written parses back to the same moves. */
	{
		struct move_list back;

		ck_assert_int_eq(
		    reassign_json_parse(s, &back, err, sizeof(err)), 0);
		ck_assert_uint_eq(back.n, 2);
		ck_assert_str_eq(back.v[1].topic, "b\"ar");
		ck_assert_int_eq(back.v[0].replicas[1], 2);
		move_list_free(&back);
	}
	free(s);
	move_list_free(&l);
}
END_TEST

START_TEST(test_lists_and_files)
{
	struct tp v[] = {{"t", 0}, {"t", 10}, {"u", 3}};
	int32_t ids[] = {4, 5, 6};
	char buf[8], path[] = "/tmp/fluxo-adminjson-XXXXXX", *text;
	char *s = tp_join(v, 3, ", ");
	FILE *f;
	int fd;

	ck_assert_str_eq(s, "t-0, t-10, u-3");
	free(s);
	s = tp_join(v, 0, ", ");
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_str_eq(ids_join(ids, 3, buf, sizeof(buf)), "4,5,6");
	ck_assert_str_eq(ids_join(ids, 0, buf, sizeof(buf)), "");
	/* Cut short, still terminated. */
	ck_assert_str_eq(ids_join(ids, 3, buf, 4), "4,5");

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 2000; i++)
		fputs("0123456789", f);
	fclose(f);
	ck_assert_int_eq(admin_read_file(path, &text, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(text), 20000);
	free(text);
	unlink(path);
	ck_assert_int_eq(admin_read_file(path, &text, err, sizeof(err)),
			 ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_null(text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("adminjson");
	TCase *tc = tcase_create("files");

	tcase_add_test(tc, test_election_file);
	tcase_add_test(tc, test_election_file_errors);
	tcase_add_test(tc, test_topics_file);
	tcase_add_test(tc, test_reassignment_file);
	tcase_add_test(tc, test_reassignment_file_errors);
	tcase_add_test(tc, test_reassignment_format);
	tcase_add_test(tc, test_lists_and_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
