/*
 * test_frame.c - frame prefix limits and head round trips, and the arena
 * allocator that decodes heads.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/err.h"
#include "common/frame.h"
#include "fluxo.pb-c.h"

START_TEST(test_roundtrip)
{
	Fluxo__Request req = FLUXO__REQUEST__INIT;
	Fluxo__MetadataRequest md = FLUXO__METADATA_REQUEST__INIT;
	char *topics[] = { "a", "bb" };
	struct buf out = BUF_INIT;
	struct frame_info fi;
	struct arena arena;
	Fluxo__Request *dec;

	req.api = FLUXO__API_KEY__METADATA;
	req.correlation_id = 42;
	req.client_id = "test";
	md.n_topics = 2;
	md.topics = topics;
	req.body_case = FLUXO__REQUEST__BODY_METADATA;
	req.metadata = &md;
	ck_assert_int_eq(frame_encode_head(&out, &req.base, 3), 0);
	ck_assert_int_eq(buf_append(&out, "xyz", 3), 0);

	ck_assert_int_eq(frame_parse_prefix(out.data, 7, 1 << 20, &fi),
			 ERR_AGAIN);
	ck_assert_int_eq(frame_parse_prefix(out.data, out.len, 1 << 20, &fi),
			 0);
	ck_assert_uint_eq(fi.total, out.len);
	ck_assert_uint_eq(fi.payload_len, 3);
	ck_assert_int_eq(frame_parse_prefix(out.data, out.len, 10, &fi),
			 ERR_TOO_LARGE);

	arena_init(&arena, 64);
	dec = fluxo__request__unpack(arena_pb(&arena), fi.head_len,
				     out.data + FRAME_PREFIX_SIZE);
	ck_assert_ptr_nonnull(dec);
	ck_assert_int_eq(dec->correlation_id, 42);
	ck_assert_int_eq(dec->body_case, FLUXO__REQUEST__BODY_METADATA);
	ck_assert_uint_eq(dec->metadata->n_topics, 2);
	ck_assert_str_eq(dec->metadata->topics[1], "bb");
	ck_assert_mem_eq(out.data + FRAME_PREFIX_SIZE + fi.head_len, "xyz", 3);
	arena_reset(&arena);
	arena_destroy(&arena);
	buf_free(&out);
}
END_TEST

START_TEST(test_bad_prefixes)
{
	uint8_t p[8];
	struct frame_info fi;

	be32_put(p, 3);
	be32_put(p + 4, 1);
	ck_assert_int_eq(frame_parse_prefix(p, 8, 1000, &fi), ERR_PROTO);
	be32_put(p, 100);
	be32_put(p + 4, 97);
	ck_assert_int_eq(frame_parse_prefix(p, 8, 1000, &fi), ERR_PROTO);
	be32_put(p + 4, 0);
	ck_assert_int_eq(frame_parse_prefix(p, 8, 1000, &fi), ERR_PROTO);
	be32_put(p, 0xffffffffu);
	be32_put(p + 4, 10);
	ck_assert_int_eq(frame_parse_prefix(p, 8, 100 << 20, &fi),
			 ERR_TOO_LARGE);
	be32_put(p, 100);
	be32_put(p + 4, 96);
	ck_assert_int_eq(frame_parse_prefix(p, 8, 1000, &fi), 0);
	ck_assert_uint_eq(fi.payload_len, 0);
}
END_TEST

START_TEST(test_arena)
{
	struct arena a;
	void *p1, *p2, *big;

	arena_init(&a, 128);
	p1 = arena_alloc(&a, 10);
	p2 = arena_alloc(&a, 10);
	ck_assert_ptr_nonnull(p1);
	ck_assert_uint_eq((uintptr_t)p1 % 16, 0);
	ck_assert_uint_eq((uintptr_t)p2 - (uintptr_t)p1, 16);
	big = arena_alloc(&a, 1000);
	ck_assert_ptr_nonnull(big);
	memset(big, 1, 1000);
	arena_reset(&a);
	ck_assert_ptr_eq(arena_alloc(&a, 10), p1);
	arena_destroy(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_bad_prefixes);
	tcase_add_test(tc, test_arena);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
