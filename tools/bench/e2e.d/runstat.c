// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * runstat OUT COMMAND [ARGS]: runs COMMAND as a child, writes its pid to
 * OUT.pid at once, passes SIGINT and SIGTERM on to it, and when it ends
 * writes "status=N user_us=N sys_us=N" to OUT: the exit status (128 + signal
 * when killed) and the CPU time of the command and all its threads, to the
 * microsecond (getrusage through wait4). The e2e harness runs trafgen under
 * it (the kernel's receive work is in trafgen's CPU time) and every capture
 * tool (for the pid, the exit status and the forwarding of signals).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward };
	char pidpath[4096];
	struct rusage ru;
	int status, code;
	FILE *f;

	if (argc < 3) {
		fputs("usage: runstat OUT COMMAND [ARGS]\n", stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	child = fork();
	if (child < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (!child) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	snprintf(pidpath, sizeof(pidpath), "%s.pid", argv[1]);
	f = fopen(pidpath, "w");
	if (f) {
		fprintf(f, "%d\n", (int)child);
		fclose(f);
	}
	while (wait4(child, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("runstat: wait4");
			return 1;
		}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	f = fopen(argv[1], "w");
	if (!f) {
		perror("runstat: OUT");
		return 1;
	}
	fprintf(f, "status=%d user_us=%lld sys_us=%lld\n", code,
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
	fclose(f);
	return code;
}
