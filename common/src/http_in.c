/*
 * http_in.c - the FastCGI server of every service (see http_in.h): worker
 * threads, signals, the listener, start-up and shutdown.  One request is
 * served by http_router.c; handlers use the kit in http_resp.c.
 *
 * Threads: cfg->threads workers each own an FCGX_Request, a clr_db, a
 * clr_http_client and per-thread buffers, and loop on FCGX_Accept_r.  The
 * main thread only waits for a signal.  A signal handler cannot safely do
 * more than set a flag and write to a pipe, so the shutdown work (shutting
 * down the listening socket so blocked accepts return, waking threads
 * parked on idle kept-alive connections, joining) happens on the main
 * thread once the pipe wakes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/rand.h>

#include "clearance/form.h"
#include "clearance/http_in.h"
#include "clearance/log.h"
#include "clearance/util.h"
#include "http_in_priv.h"

static atomic_int in_stopping;
static int in_sigpipe[2] = {-1, -1};

int clr_server_stopping(void)
{
	return atomic_load_explicit(&in_stopping, memory_order_relaxed);
}

static void in_on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	atomic_store(&in_stopping, 1);
	if (in_sigpipe[1] >= 0 && write(in_sigpipe[1], "s", 1) < 0) {
		/* the pipe is non-blocking; a full pipe already wakes main */
	}
	errno = saved;
}

static void worker_cleanup(struct worker *w)
{
	const struct clr_server *srv = w->sv->srv;

	if (w->tctx_set && srv->thread_fini != NULL)
		srv->thread_fini(srv->app, w->tctx);
	w->tctx_set = 0;
	clr_http_client_free(w->http);
	w->http = NULL;
	clr_db_close(w->db);
	w->db = NULL;
	free(w->body);
	w->body = NULL;
	FCGX_Free(&w->fx, 1);
}

static enum clr_rc worker_setup(struct worker *w)
{
	const struct clr_server *srv = w->sv->srv;
	enum clr_rc rc;

	if (FCGX_InitRequest(&w->fx, w->sv->lfd, 0) != 0)
		return CLR_ERR_INTERNAL;
	if (srv->cfg->database_url != NULL) {
		rc = clr_db_open(srv->cfg->database_url, srv->stmts, srv->nstmts, &w->db);
		if (rc != CLR_OK)
			return rc;
	}
	rc = clr_http_client_new(&w->http);
	if (rc != CLR_OK)
		return rc;
	if (srv->thread_init != NULL) {
		rc = srv->thread_init(srv->app, &w->tctx);
		if (rc != CLR_OK)
			return rc;
		w->tctx_set = 1;
	}
	return CLR_OK;
}

static void wake_main(void)
{
	if (in_sigpipe[1] >= 0 && write(in_sigpipe[1], "f", 1) < 0) {
		/* non-blocking pipe already full: main is awake anyway */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *sv = w->sv;
	enum clr_rc rc = worker_setup(w);
	int go, errs = 0;

	if (rc != CLR_OK)
		clr_log(NULL, CLR_LOG_ERROR, "worker %d set-up failed: %s", w->idx,
			clr_rc_name(rc));
	pthread_mutex_lock(&sv->mu);
	sv->ready++;
	if (rc != CLR_OK)
		sv->failed = 1;
	pthread_cond_broadcast(&sv->cv);
	while (sv->go == 0)
		pthread_cond_wait(&sv->cv, &sv->mu);
	go = sv->go;
	pthread_mutex_unlock(&sv->mu);

	while (go > 0) {
		int ar;

		pthread_mutex_lock(&sv->mu);
		if (clr_server_stopping()) {
			pthread_mutex_unlock(&sv->mu);
			break;
		}
		w->idle_fd = w->fx.ipcFd >= 0 ? w->fx.ipcFd : -1;
		pthread_mutex_unlock(&sv->mu);
		ar = FCGX_Accept_r(&w->fx);
		pthread_mutex_lock(&sv->mu);
		w->idle_fd = -2;
		pthread_mutex_unlock(&sv->mu);
		if (ar < 0) {
			if (clr_server_stopping())
				break;
			clr_log(NULL, CLR_LOG_ERROR, "FCGX_Accept_r failed: %d", ar);
			if (++errs >= IN_ACCEPT_ERR_MAX) {
				pthread_mutex_lock(&sv->mu);
				sv->fatal = 1;
				pthread_mutex_unlock(&sv->mu);
				wake_main();
				break;
			}
			poll(NULL, 0, 100);
			continue;
		}
		errs = 0;
		clr_in_serve_one(w);
	}
	worker_cleanup(w);
	return NULL;
}

/* Opens cfg->listen; *unix_path gets the socket path to unlink at exit. */
static int open_listener(const char *listen_spec, const char **unix_path)
{
	int fd;

	*unix_path = NULL;
	if (listen_spec == NULL) {
		if (FCGX_IsCGI()) {
			clr_log(NULL, CLR_LOG_ERROR,
				"fd 0 is not a listening socket: set CLEARANCE_LISTEN or start "
				"under spawn-fcgi");
			return -1;
		}
		return 0;
	}
	if (strncmp(listen_spec, "unix:", 5) == 0) {
		const char *path = listen_spec + 5;
		struct stat st;

		/* libfcgi treats any ':' as host:port */
		if (path[0] != '/' || strchr(path, ':') != NULL) {
			clr_log(NULL, CLR_LOG_ERROR,
				"LISTEN: unix socket path must be absolute "
				"and contain no ':'");
			return -1;
		}
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path); /* stale socket of an earlier run */
		fd = FCGX_OpenSocket(path, IN_BACKLOG);
		if (fd < 0) {
			clr_log(NULL, CLR_LOG_ERROR, "cannot listen on %s: %s", path,
				strerror(errno));
			return -1;
		}
		/* nginx workers run as another user and must be able to connect. */
		if (chmod(path, 0666) != 0)
			clr_log(NULL, CLR_LOG_WARN, "chmod %s: %s", path, strerror(errno));
		*unix_path = path;
		return fd;
	}
	if (strchr(listen_spec, ':') == NULL) {
		clr_log(NULL, CLR_LOG_ERROR, "LISTEN must be unix:/path or host:port");
		return -1;
	}
	fd = FCGX_OpenSocket(listen_spec, IN_BACKLOG);
	if (fd < 0)
		clr_log(NULL, CLR_LOG_ERROR, "cannot listen on %s: %s", listen_spec,
			strerror(errno));
	return fd;
}

/* Every field table names a json_body route: a typo must not disable a check. */
static int bodies_ok(const struct clr_server *srv)
{
	size_t i, j;

	if (srv->nbodies > 0 && srv->bodies == NULL)
		return 0;
	for (i = 0; i < srv->nbodies; i++) {
		for (j = 0; j < srv->nroutes; j++)
			if (srv->routes[j].json_body &&
			    strcmp(srv->routes[j].pattern, srv->bodies[i].pattern) == 0 &&
			    strcmp(srv->routes[j].method, srv->bodies[i].method) == 0)
				break;
		if (j == srv->nroutes) {
			clr_log(NULL, CLR_LOG_ERROR,
				"clr_server_run: field table for %s %s names no json_body route",
				srv->bodies[i].method, srv->bodies[i].pattern);
			return 0;
		}
	}
	return 1;
}

int clr_server_run(const struct clr_server *srv)
{
	struct sigaction sa, old_term, old_int;
	struct server sv;
	const char *unix_path = NULL;
	int i, nstarted = 0, ret = 1, sigs_set = 0;
	size_t k;

	memset(&sv, 0, sizeof(sv));
	sv.srv = srv;
	sv.lfd = -1;
	pthread_mutex_init(&sv.mu, NULL);
	pthread_cond_init(&sv.cv, NULL);
	if (srv == NULL || srv->cfg == NULL || (srv->nroutes > 0 && srv->routes == NULL) ||
	    srv->cfg->threads < 1) {
		clr_log(NULL, CLR_LOG_ERROR, "clr_server_run: bad server description");
		goto out;
	}
	if (!bodies_ok(srv))
		goto out;
	atomic_store(&in_stopping, 0);
	if (FCGX_Init() != 0) {
		clr_log(NULL, CLR_LOG_ERROR, "FCGX_Init failed");
		goto out;
	}
	sv.route_names = calloc(srv->nroutes + BI__MAX, sizeof(*sv.route_names));
	if (sv.route_names == NULL)
		goto out;
	for (k = 0; k < srv->nroutes; k++)
		sv.route_names[k] = srv->routes[k].pattern;
	for (k = 0; k < BI__MAX; k++)
		sv.route_names[srv->nroutes + k] = clr_in_builtin_paths[k];
	if (clr_metrics_new(srv->service, sv.route_names, srv->nroutes + BI__MAX, &sv.metrics) !=
	    CLR_OK)
		goto out;
	if (pipe2(in_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		in_sigpipe[0] = in_sigpipe[1] = -1;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = in_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, &old_term) != 0 || sigaction(SIGINT, &sa, &old_int) != 0)
		goto out;
	sigs_set = 1;

	sv.lfd = open_listener(srv->cfg->listen, &unix_path);
	if (sv.lfd < 0)
		goto out;

	sv.nw = srv->cfg->threads;
	sv.w = calloc((size_t)sv.nw, sizeof(*sv.w));
	if (sv.w == NULL)
		goto out;
	for (i = 0; i < sv.nw; i++) {
		sv.w[i].sv = &sv;
		sv.w[i].idx = i;
		sv.w[i].idle_fd = -2;
		if (pthread_create(&sv.w[i].thr, NULL, worker_main, &sv.w[i]) != 0) {
			clr_log(NULL, CLR_LOG_ERROR, "pthread_create failed");
			break;
		}
		nstarted++;
	}
	pthread_mutex_lock(&sv.mu);
	while (sv.ready < nstarted)
		pthread_cond_wait(&sv.cv, &sv.mu);
	sv.go = (sv.failed || nstarted < sv.nw) ? -1 : 1;
	pthread_cond_broadcast(&sv.cv);
	pthread_mutex_unlock(&sv.mu);

	if (sv.go > 0) {
		clr_log(NULL, CLR_LOG_INFO, "serving on %s with %d threads",
			srv->cfg->listen ? srv->cfg->listen : "fd 0", sv.nw);
		for (;;) {
			struct pollfd p = {.fd = in_sigpipe[0], .events = POLLIN};
			char drain[16];

			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			while (read(in_sigpipe[0], drain, sizeof(drain)) > 0)
				;
			pthread_mutex_lock(&sv.mu);
			if (clr_server_stopping() || sv.fatal) {
				pthread_mutex_unlock(&sv.mu);
				break;
			}
			pthread_mutex_unlock(&sv.mu);
		}
		clr_log(NULL, CLR_LOG_INFO, "stopping: finishing running requests");
	}

	pthread_mutex_lock(&sv.mu);
	atomic_store(&in_stopping, 1);
	/*
	 * Blocked accept() calls return (EINVAL, which libfcgi does not retry)
	 * once the listener is shut down.  FCGX_ShutdownPending() is not used:
	 * it is a process-wide latch libfcgi never resets, so a second
	 * clr_server_run in the same process (tests) could not accept at all,
	 * and the socket shutdown already covers what it would do.
	 */
	shutdown(sv.lfd, SHUT_RDWR);
	/* Threads parked on an idle kept-alive connection would wait forever. */
	for (i = 0; i < nstarted; i++) {
		if (sv.w[i].idle_fd >= 0)
			shutdown(sv.w[i].idle_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&sv.mu);
	for (i = 0; i < nstarted; i++)
		pthread_join(sv.w[i].thr, NULL);
	ret = (sv.go > 0 && !sv.fatal) ? 0 : 1;
out:
	if (sv.lfd > 0)
		close(sv.lfd);
	if (unix_path != NULL)
		unlink(unix_path);
	if (sigs_set) {
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGINT, &old_int, NULL);
	}
	if (in_sigpipe[0] >= 0) {
		close(in_sigpipe[0]);
		close(in_sigpipe[1]);
		in_sigpipe[0] = in_sigpipe[1] = -1;
	}
	free(sv.w);
	clr_metrics_free(sv.metrics);
	free(sv.route_names);
	pthread_cond_destroy(&sv.cv);
	pthread_mutex_destroy(&sv.mu);
	return ret;
}
