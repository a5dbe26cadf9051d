/* The jailer test's stand-in for vireo (tests/e2e/jailer.py builds it with
 * gcc -static): it reports what a jailed process sees, one key=value a
 * line, then "END". --out PATH writes the report there instead of stdout
 * (--daemonize leaves stdout on /dev/null); --hold waits until the test
 * creates /release in the jail, so the test can look at /proc/<pid>. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void node(FILE *f, const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		fprintf(f, "%s=absent:%d\n", key, errno);
	else
		fprintf(f, "%s=%s:%u:%u:%u:%u:%o\n", key, S_ISCHR(st.st_mode) ? "chr" : "other",
			major(st.st_rdev), minor(st.st_rdev), st.st_uid, st.st_gid,
			st.st_mode & 07777);
}

static void reach(FILE *f, const char *key, const char *path)
{
	int fd = open(path, O_RDONLY);

	fprintf(f, "%s=%s\n", key, fd >= 0 ? "open" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void report(FILE *f, int argc, char **argv)
{
	struct rlimit rl;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int n = 0;

	fprintf(f, "ids=%u:%u:%u:%u\n", getuid(), geteuid(), getgid(), getegid());
	fprintf(f, "groups=%d\n", getgroups(0, NULL));
	fprintf(f, "setuid0=%s\n", setuid(0) ? strerror(errno) : "ok");
	fprintf(f, "seteuid0=%s\n", seteuid(0) ? strerror(errno) : "ok");
	fprintf(f, "setgid0=%s\n", setgid(0) ? strerror(errno) : "ok");
	fprintf(f, "pid=%d\n", (int)getpid());
	fprintf(f, "sid=%d\n", (int)getsid(0));
	getrlimit(RLIMIT_NOFILE, &rl);
	fprintf(f, "nofile=%llu:%llu\n", (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	fprintf(f, "fsize=%lld:%lld\n", rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur,
		rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
	node(f, "kvm", "/dev/kvm");
	node(f, "tun", "/dev/net/tun");
	node(f, "uffd", "/dev/userfaultfd");
	if (!stat("/", &st))
		fprintf(f, "root=%u:%u\n", st.st_uid, st.st_gid);
	reach(f, "passwd", "/etc/passwd");
	reach(f, "escape", "../../../../../../etc/passwd");
	reach(f, "proc", "/proc/self/status");
	if (!chdir("..") && !chdir("..") && getcwd((char[256]){ 0 }, 256))
		fprintf(f, "cwd_after_up=%s\n", getcwd((char[256]){ 0 }, 256));
	d = opendir("/");
	fprintf(f, "ls=");
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fprintf(f, "%s%s", n++ ? "," : "", de->d_name);
	fprintf(f, "\n");
	if (d)
		closedir(d);
	fprintf(f, "fds=");
	n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && !(f != stdout && fd == fileno(f)))
			fprintf(f, "%s%d", n++ ? "," : "", fd);
	fprintf(f, "\n");
	for (int fd = 0; fd < 3; fd++)
		if (!fstat(fd, &st))
			fprintf(f, "stdio%d=%u:%u\n", fd, major(st.st_rdev), minor(st.st_rdev));
	n = 0;
	while (environ && environ[n])
		n++;
	fprintf(f, "env=%d\n", n);
	fprintf(f, "argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		fprintf(f, "argv%d=%s\n", i, argv[i]);
	fprintf(f, "END\n");
	fflush(f);
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	int hold = 0;
	FILE *f = stdout;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--hold"))
			hold = 1;
	}
	if (out && !(f = fopen(out, "w")))
		return 3;
	report(f, argc, argv);
	if (out)
		fclose(f);
	/* 60 s at most: never outlive a test that died */
	for (int i = 0; hold && i < 3000 && access("/release", F_OK); i++)
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	return 0;
}
