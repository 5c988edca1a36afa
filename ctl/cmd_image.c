/* boxerctl's image commands: pull, images, rmi, gc. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "ctl_internal.h"

/* A progress line on a terminal, redrawn at most ten times a second. */
struct progress {
    const char *ref;
    struct timespec last;
};

static void
on_progress(void *ud, uint64_t done, uint64_t total)
{
    struct progress *p = ud;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000;
    if (ms < 100 && done < total)
        return;
    p->last = now;
    char a[32], b[32];
    fprintf(stderr, "\r\033[Kpulling %s: %s / %s", p->ref, ctl_human_bytes(done, a, sizeof(a)),
            ctl_human_bytes(total, b, sizeof(b)));
}

int
ctl_cmd_pull(struct ctl *c, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: boxerctl pull IMAGE\n");
        return 2;
    }
    struct bx_err err = BX_ERR_INIT;
    if (ctl_open_store(c, &err) < 0)
        return ctl_fail(&err);
    struct progress p = {.ref = argv[1]};
    bool tty = isatty(STDERR_FILENO) && !c->json;
    struct oci_image img;
    int rc = oci_store_pull(c->store, argv[1], tty ? on_progress : NULL, &p, &img, &err);
    if (tty)
        fputs("\r\033[K", stderr);
    if (rc < 0)
        return ctl_fail(&err);
    if (c->json) {
        json_auto_t *o =
            json_pack("{s:s, s:s, s:s, s:I, s:b}", "ref", img.ref, "digest", img.digest, "rootfs",
                      img.rootfs, "size", (json_int_t)img.size, "from_cache", img.from_cache);
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
    } else {
        printf("%s %s\n", img.ref, img.digest);
    }
    oci_image_release(&img);
    return 0;
}

int
ctl_cmd_images(struct ctl *c, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: boxerctl images\n");
        return 2;
    }
    struct bx_err err = BX_ERR_INIT;
    cleanup_free struct oci_store_entry *e = NULL;
    size_t n = 0;
    if (ctl_open_store(c, &err) < 0 || oci_store_list(c->store, &e, &n, &err) < 0)
        return ctl_fail(&err);
    if (c->json) {
        json_auto_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}", "ref", e[i].ref, "digest",
                                               e[i].digest, "size", (json_int_t)e[i].size,
                                               "resolved", (json_int_t)e[i].resolved));
        json_dumpf(a, stdout, JSON_COMPACT);
        putchar('\n');
        return 0;
    }
    printf("%-60s %-19s %10s  %s\n", "REF", "DIGEST", "SIZE", "RESOLVED");
    for (size_t i = 0; i < n; i++) {
        char size[32], when[32];
        struct tm tm;
        gmtime_r(&e[i].resolved, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
        printf("%-60s %.19s %10s  %s\n", e[i].ref, e[i].digest,
               ctl_human_bytes(e[i].size, size, sizeof(size)), when);
    }
    return 0;
}

int
ctl_cmd_rmi(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: boxerctl rmi IMAGE...\n");
        return 2;
    }
    struct bx_err err = BX_ERR_INIT;
    if (ctl_open_store(c, &err) < 0)
        return ctl_fail(&err);
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (oci_store_remove(c->store, argv[i], &err) < 0)
            status = ctl_fail(&err);
        else if (!c->json)
            printf("%s\n", argv[i]);
    }
    return status;
}

int
ctl_cmd_gc(struct ctl *c, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: boxerctl gc\n");
        return 2;
    }
    struct bx_err err = BX_ERR_INIT;
    struct oci_gc_stats st;
    if (ctl_open_store(c, &err) < 0 || oci_store_gc(c->store, &st, &err) < 0)
        return ctl_fail(&err);
    char freed[32];
    if (c->json)
        printf("{\"rootfs_removed\":%llu,\"blobs_removed\":%llu,\"bytes_freed\":%llu}\n",
               (unsigned long long)st.rootfs_removed, (unsigned long long)st.blobs_removed,
               (unsigned long long)st.bytes_freed);
    else
        printf("removed %llu root file systems and %llu blobs, freed %s\n",
               (unsigned long long)st.rootfs_removed, (unsigned long long)st.blobs_removed,
               ctl_human_bytes(st.bytes_freed, freed, sizeof(freed)));
    return 0;
}
