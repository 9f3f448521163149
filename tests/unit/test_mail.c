/*
 * test_mail.c - mail.h: template rendering (substitution, unknown keys,
 * header injection through the subject, bad names and files), address
 * checks, and sending through libcurl to a tiny SMTP responder on
 * 127.0.0.1 that records the dialogue.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "clearance/config.h"
#include "clearance/mail.h"
#include "clearance/rc.h"

static char tdir[64];

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/clr-mail-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	write_file("hello.txt",
		   "Subject: Hello {{name}}\n\nDear {{name}},\nyou have {{n}} apps.\n");
	write_file("typo.txt", "Subject: Hi\n\nDear {{nme}}\n");
	write_file("nosubject.txt", "Hello\n\nbody\n");
	write_file("noblank.txt", "Subject: x\nbody\n");
	write_file("open.txt", "Subject: x\n\nDear {{name\n");
}

static void teardown(void)
{
	static const char *const files[] = {"hello.txt", "typo.txt", "nosubject.txt", "noblank.txt",
					    "open.txt"};
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tdir, files[i]);
		unlink(path);
	}
	rmdir(tdir);
}

START_TEST(render_substitutes)
{
	json_t *vars = json_pack("{s:s, s:i}", "name", "Ann", "n", 3);
	char *subject = NULL, *body = NULL;
	struct clr_err e = {0};

	ck_assert_int_eq(clr_mail_render(tdir, "hello", vars, &subject, &body, &e), CLR_OK);
	ck_assert_str_eq(subject, "Hello Ann");
	ck_assert_str_eq(body, "Dear Ann,\nyou have 3 apps.\n");
	free(subject);
	free(body);
	json_decref(vars);
}
END_TEST

START_TEST(render_subject_cannot_add_headers)
{
	json_t *vars = json_pack("{s:s, s:i}", "name", "x\r\nBcc: victim@evil.test", "n", 1);
	char *subject = NULL, *body = NULL;
	struct clr_err e = {0};

	ck_assert_int_eq(clr_mail_render(tdir, "hello", vars, &subject, &body, &e), CLR_OK);
	ck_assert_ptr_null(strpbrk(subject, "\r\n"));
	ck_assert_str_eq(subject, "Hello xBcc: victim@evil.test");
	free(subject);
	free(body);
	json_decref(vars);
}
END_TEST

START_TEST(render_errors)
{
	json_t *vars = json_pack("{s:s}", "name", "Ann");
	char *subject = NULL, *body = NULL;
	struct clr_err e = {0};

	ck_assert_int_eq(clr_mail_render(tdir, "typo", vars, &subject, &body, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "nme"));
	ck_assert_ptr_null(subject);
	ck_assert_int_eq(clr_mail_render(tdir, "hello", vars, &subject, &body, &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "{{n}}"));
	ck_assert_int_eq(clr_mail_render(tdir, "nosubject", vars, &subject, &body, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "noblank", vars, &subject, &body, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "open", vars, &subject, &body, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "missing", vars, &subject, &body, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "../etc/passwd", vars, &subject, &body, &e),
			 CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "Hello", vars, &subject, &body, &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_render(tdir, "", vars, &subject, &body, &e), CLR_ERR_PARAM);
	ck_assert_ptr_null(subject);
	ck_assert_ptr_null(body);
	json_decref(vars);
}
END_TEST

START_TEST(render_shipped_templates)
{
	/* The defaults in deploy/mail use only the variables the jobs provide. */
	static const char *const names[] = {"request_submitted", "request_approved",
					    "request_rejected", "request_revoked"};
	json_t *vars =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "request_id", "r",
		      "developer_email", "d@x.test", "developer_name", "D", "product_name", "P",
		      "plan_name", "L", "app_name", "A", "app_id", "a", "reason", "why");
	char *subject = NULL, *body = NULL;
	struct clr_err e = {0};
	size_t i;

	if (access("deploy/mail/request_approved.txt", R_OK) != 0) {
		fprintf(stderr, "test_mail: deploy/mail not found from the cwd; skipping\n");
		json_decref(vars);
		return;
	}
	for (i = 0; i < 4; i++) {
		ck_assert_msg(clr_mail_render("deploy/mail", names[i], vars, &subject, &body, &e) ==
				  CLR_OK,
			      "%s: %s", names[i], e.msg);
		ck_assert_ptr_null(strstr(body, "{{"));
		free(subject);
		free(body);
	}
	json_decref(vars);
}
END_TEST

START_TEST(addr_valid_cases)
{
	ck_assert(clr_mail_addr_valid("dev@example.test"));
	ck_assert(clr_mail_addr_valid("a.b+c@x.y"));
	ck_assert(!clr_mail_addr_valid(NULL));
	ck_assert(!clr_mail_addr_valid(""));
	ck_assert(!clr_mail_addr_valid("no-at"));
	ck_assert(!clr_mail_addr_valid("@x.test"));
	ck_assert(!clr_mail_addr_valid("a@"));
	ck_assert(!clr_mail_addr_valid("a@b@c"));
	ck_assert(!clr_mail_addr_valid("a b@c.test"));
	ck_assert(!clr_mail_addr_valid("a@c.test\r\nRCPT TO:<x@y>"));
	ck_assert(!clr_mail_addr_valid("<a@c.test>"));
}
END_TEST

/* ---- a one-connection SMTP responder ------------------------------------ */

struct smtp_srv {
	int lfd;
	int port;
	char log[16384]; /* client lines and the DATA, as received */
	size_t len;
	pthread_t th;
};

static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;

	while (n + 1 < cap && read(fd, &c, 1) == 1) {
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static void say(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void *smtp_main(void *arg)
{
	struct smtp_srv *s = arg;
	char line[1024];
	int fd = accept(s->lfd, NULL, NULL), in_data = 0;

	if (fd < 0)
		return NULL;
	say(fd, "220 test ESMTP\r\n");
	while (read_line(fd, line, sizeof(line)) > 0) {
		size_t l = strlen(line);

		if (s->len + l < sizeof(s->log)) {
			memcpy(s->log + s->len, line, l);
			s->len += l;
			s->log[s->len] = '\0';
		}
		if (in_data) {
			if (strcmp(line, ".\r\n") == 0) {
				in_data = 0;
				say(fd, "250 queued\r\n");
			}
			continue;
		}
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0)
			say(fd, "250 test\r\n");
		else if (strncasecmp(line, "DATA", 4) == 0) {
			in_data = 1;
			say(fd, "354 go ahead\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			say(fd, "221 bye\r\n");
			break;
		} else
			say(fd, "250 ok\r\n");
	}
	close(fd);
	return NULL;
}

static void smtp_start(struct smtp_srv *s)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 1), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&s->th, NULL, smtp_main, s), 0);
}

static void test_cfg(struct clr_config *c, char *url, size_t cap, int port)
{
	memset(c, 0, sizeof(*c));
	snprintf(url, cap, "smtp://127.0.0.1:%d", port);
	c->smtp_url = url;
	c->mail_from = (char *)"clearance@test.local";
	c->http_connect_timeout_ms = 2000;
	c->http_timeout_ms = 5000;
}

START_TEST(send_through_smtp)
{
	struct smtp_srv s;
	struct clr_config c;
	struct clr_err e = {0};
	char url[64];

	smtp_start(&s);
	test_cfg(&c, url, sizeof(url), s.port);
	ck_assert_int_eq(clr_mail_send(&c, "dev@example.test", "Your access",
				       "line one\n.dot line\nline three", &e),
			 CLR_OK);
	pthread_join(s.th, NULL);
	close(s.lfd);
	ck_assert_ptr_nonnull(strstr(s.log, "MAIL FROM:<clearance@test.local>"));
	ck_assert_ptr_nonnull(strstr(s.log, "RCPT TO:<dev@example.test>"));
	ck_assert_ptr_nonnull(strstr(s.log, "Subject: Your access\r\n"));
	ck_assert_ptr_nonnull(strstr(s.log, "To: <dev@example.test>\r\n"));
	ck_assert_ptr_nonnull(strstr(s.log, "Content-Type: text/plain; charset=utf-8\r\n"));
	/* LF became CRLF, and the leading dot was stuffed. */
	ck_assert_ptr_nonnull(strstr(s.log, "line one\r\n..dot line\r\nline three\r\n"));
}
END_TEST

START_TEST(send_errors)
{
	struct smtp_srv s;
	struct clr_config c;
	struct clr_err e = {0};
	char url[64];
	int port;

	/* A port nobody listens on: bind, note it, close. */
	{
		struct sockaddr_in a;
		socklen_t al = sizeof(a);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s.lfd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(s.lfd, 0);
		ck_assert_int_eq(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(getsockname(s.lfd, (struct sockaddr *)&a, &al), 0);
		port = ntohs(a.sin_port);
		close(s.lfd);
	}
	test_cfg(&c, url, sizeof(url), port);
	ck_assert_int_eq(clr_mail_send(&c, "dev@example.test", "s", "b", &e), CLR_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "sending mail failed"));

	ck_assert_int_eq(clr_mail_send(&c, "bad address", "s", "b", &e), CLR_ERR_PARAM);
	ck_assert_int_eq(clr_mail_send(&c, "dev@example.test", "two\r\nlines", "b", &e),
			 CLR_ERR_PARAM);
	c.smtp_url = NULL;
	ck_assert_int_eq(clr_mail_send(&c, "dev@example.test", "s", "b", &e), CLR_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(e.msg, "SMTP_URL"));
}
END_TEST

static Suite *mail_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *tc;

	tc = tcase_create("clr_mail_render");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, render_substitutes);
	tcase_add_test(tc, render_subject_cannot_add_headers);
	tcase_add_test(tc, render_errors);
	tcase_add_test(tc, render_shipped_templates);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_mail_addr_valid");
	tcase_add_test(tc, addr_valid_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("clr_mail_send");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, send_through_smtp);
	tcase_add_test(tc, send_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mail_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
