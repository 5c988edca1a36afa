/* Probing the installed runsc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "common/fs.h"
#include "common/runsc.h"

extern char **environ;

/* Copies the real path of the executable file `cand` into out (a directory is "executable" for
 * access(2) too, and is skipped as exec would). */
static bool
take_real(const char *cand, char *out, size_t size)
{
    char real[PATH_MAX];
    struct stat st;
    if (access(cand, X_OK) < 0 || !realpath(cand, real) || stat(real, &st) < 0 ||
        !S_ISREG(st.st_mode) || strlen(real) >= size)
        return false;
    memcpy(out, real, strlen(real) + 1);
    return true;
}

bool
bx_runsc_find(const char *name, char *out, size_t size)
{
    if (strchr(name, '/'))
        return take_real(name, out, size);
    const char *path = getenv("PATH");
    char cand[PATH_MAX];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, name);
        if (take_real(cand, out, size))
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

bool
bx_runsc_has_platform(const char *runsc, const char *platform)
{
    char flag[128];
    if ((size_t)snprintf(flag, sizeof(flag), "--platform=%s", platform) >= sizeof(flag))
        return false;
    char *const argv[] = {(char *)runsc, flag, "--root=/nonexistent/boxer-platform-probe", "list",
                          NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, runsc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return false;
    int ws = 0;
    pid_t r;
    while ((r = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
        ;
    return r == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

const char *
bx_runsc_platform(const char *runsc, const char *wanted, bool *fell_back)
{
    *fell_back = false;
    if (wanted && *wanted && bx_runsc_has_platform(runsc, wanted))
        return wanted;
    *fell_back = true;
    return "ptrace";
}

const char *
bx_runsc_platform_cached(const char *runsc, const char *wanted, const char *cache_dir,
                         bool *fell_back)
{
    *fell_back = false;
    if (!wanted || !*wanted || strcmp(wanted, "ptrace") == 0)
        return "ptrace";
    /* The answer holds as long as the runsc binary is the same one. */
    char bin[PATH_MAX], key[PATH_MAX + 128], cache[PATH_MAX], line[PATH_MAX + 160];
    struct stat st;
    if (!bx_runsc_find(runsc, bin, sizeof(bin)) || stat(bin, &st) < 0 || !cache_dir ||
        strlen(wanted) > 64 || strchr(wanted, '/'))
        return bx_runsc_platform(runsc, wanted, fell_back);
    snprintf(key, sizeof(key), "%s %lld %lld %lld", bin, (long long)st.st_ino,
             (long long)st.st_size, (long long)st.st_mtime);
    snprintf(cache, sizeof(cache), "%s/runsc-platform-%s", cache_dir, wanted);
    FILE *f = fopen(cache, "re");
    if (f) {
        bool hit = fgets(line, sizeof(line), f) != NULL;
        fclose(f);
        size_t klen = strlen(key);
        if (hit && strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            *fell_back = line[klen + 1] != 'y';
            return *fell_back ? "ptrace" : wanted;
        }
    }
    const char *got = bx_runsc_platform(runsc, wanted, fell_back);
    snprintf(line, sizeof(line), "%s %s\n", key, *fell_back ? "no" : "yes");
    int dfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char name[96];
    snprintf(name, sizeof(name), "runsc-platform-%s", wanted);
    if (dfd >= 0) {
        (void)bx_write_file_atomic(dfd, name, line, strlen(line), 0644, NULL);
        close(dfd);
    }
    return got;
}
