/*
 * noop.c - the ceiling of the auth_request -> FastCGI architecture: a
 * threaded libfcgi responder that answers every request with 204 and does
 * nothing else.  Same accept loop shape as clearance's http_in
 * (FCGX_InitRequest / FCGX_Accept_r / FCGX_Finish_r per thread, no
 * fcgi_stdio), so the benchmark's b) and c) differ only by the work done.
 * Built by tests/bench/bench.sh; listens on fd 0 (spawn-fcgi).
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg)
{
	FCGX_Request req;

	(void)arg;
	if (FCGX_InitRequest(&req, 0, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 204 No Content\r\n\r\n", req.out);
		FCGX_Finish_r(&req);
	}
	return NULL;
}

/*
 * libfcgi's own TERM handler only marks a shutdown for the next accept, which
 * never comes once the benchmark stopped sending: leave at once instead.
 */
static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

int main(void)
{
	const char *env = getenv("NOOP_THREADS");
	int n = env ? atoi(env) : 8;
	pthread_t t[256];

	if (n < 1 || n > 256)
		n = 8;
	if (FCGX_Init() != 0)
		return 1;
	signal(SIGTERM, on_term);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
