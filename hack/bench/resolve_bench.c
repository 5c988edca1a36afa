/* resolve_bench: how long liboci takes to resolve an image that is already in the store, within
 * its tag TTL, measured in-process (a boxerctl run is dominated by process start-up).
 *
 *   resolve_bench --home DIR [--iterations K] [--warmup W] REFERENCE
 *
 * Opens DIR/images the way boxerctl does (a registry client with default options, the default
 * tag TTL of 300 s), checks that REFERENCE was resolved less than a TTL ago, then calls
 * oci_store_pull() on it W times untimed and K times timed. Every call must succeed and report
 * from_cache. Prints one line of key=value pairs on stdout:
 *
 *   resolve iterations=K from_cache=K first_us=.. min_us=.. median_us=.. p99_us=.. max_us=..
 *           mean_us=.. age_s=.. ttl_s=300 digest=sha256:..
 *
 * Exits 0 when every call was served from the cache, 1 otherwise (with the reason on stderr), 2
 * on a usage error. Used by hack/bench/pull.sh, which stops the registry first so that any
 * network access would fail; not part of the test suite.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "oci/image.h"
#include "oci/ref.h"
#include "oci/registry.h"

#define TAG_TTL_S 300 /* boxerctl's default (image_tag_ttl_secs) */

static void
usage(void)
{
    fprintf(stderr, "usage: resolve_bench --home DIR [--iterations K] [--warmup W] REFERENCE\n");
    exit(2);
}

static long
parse_count(const char *s, long min, long max)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        usage();
    return v;
}

static double
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted v[0..n). */
static double
percentile(const double *v, size_t n, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static double
median(const double *v, size_t n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* How long ago the store resolved `reference`, in seconds; -1 when it has no entry for it. */
static long
resolved_age(struct oci_store *s, const char *reference, struct bx_err *err)
{
    struct oci_ref ref;
    if (oci_ref_parse(reference, &ref, err) < 0)
        return -1;
    char canonical[512];
    oci_ref_format(&ref, canonical, sizeof(canonical));
    cleanup_free struct oci_store_entry *e = NULL;
    size_t n = 0;
    if (oci_store_list(s, &e, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].ref, canonical) == 0)
            return (long)(time(NULL) - e[i].resolved);
    }
    bx_err_set(err, BX_ENOENT, "%s is not in the store", canonical);
    return -1;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"home", required_argument, NULL, 'H'},
        {"iterations", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home = NULL;
    long iterations = 1000, warmup = 10;
    int c;
    while ((c = getopt_long(argc, argv, "H:n:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            home = optarg;
            break;
        case 'n':
            iterations = parse_count(optarg, 1, 10000000);
            break;
        case 'w':
            warmup = parse_count(optarg, 0, 10000000);
            break;
        default:
            usage();
        }
    }
    if (!home || home[0] != '/' || optind != argc - 1)
        usage();
    const char *reference = argv[optind];
    bx_log_init("resolve_bench", BX_LOG_WARN);

    struct bx_err err = BX_ERR_INIT;
    struct oci_registry_opts ro = {0};
    struct oci_registry *registry = NULL;
    if (oci_registry_new(&ro, &registry, &err) < 0) {
        fprintf(stderr, "resolve_bench: %s\n", err.msg);
        return 1;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/images", home);
    struct oci_store_opts so = {.dir = dir, .tag_ttl_s = TAG_TTL_S};
    struct oci_store *store = NULL;
    if (oci_store_open(&so, registry, &store, &err) < 0) {
        fprintf(stderr, "resolve_bench: %s\n", err.msg);
        oci_registry_free(registry);
        return 1;
    }

    int status = 1;
    double *us = calloc((size_t)iterations, sizeof(*us));
    long age = resolved_age(store, reference, &err);
    char digest[OCI_DIGEST_MAX] = "";
    long from_cache = 0;
    double first_us = 0;
    if (!us) {
        fprintf(stderr, "resolve_bench: out of memory\n");
        goto out;
    }
    if (age < 0) {
        fprintf(stderr, "resolve_bench: %s\n", err.msg);
        goto out;
    }
    /* Past the TTL the store would ask the registry first: that is not what is measured here. */
    if (age >= TAG_TTL_S - 5) {
        fprintf(stderr,
                "resolve_bench: %s was resolved %ld s ago, not within the %d s TTL; pull it "
                "again first\n",
                reference, age, TAG_TTL_S);
        goto out;
    }
    for (long i = -warmup; i < iterations; i++) {
        struct oci_image img;
        double t0 = now_us();
        int rc = oci_store_pull(store, reference, NULL, NULL, &img, &err);
        double t = now_us() - t0;
        if (rc < 0) {
            fprintf(stderr, "resolve_bench: call %ld: %s\n", i + warmup + 1, err.msg);
            goto out;
        }
        if (i == -warmup)
            first_us = t;
        if (i >= 0) {
            us[i] = t;
            from_cache += img.from_cache;
        }
        if (!digest[0])
            snprintf(digest, sizeof(digest), "%s", img.digest);
        oci_image_release(&img);
    }
    double sum = 0;
    for (long i = 0; i < iterations; i++)
        sum += us[i];
    qsort(us, (size_t)iterations, sizeof(*us), cmp_double);
    size_t n = (size_t)iterations;
    printf("resolve iterations=%ld from_cache=%ld first_us=%.1f min_us=%.1f median_us=%.1f "
           "p99_us=%.1f max_us=%.1f mean_us=%.1f age_s=%ld ttl_s=%d digest=%s\n",
           iterations, from_cache, first_us, us[0], median(us, n), percentile(us, n, 99.0),
           us[n - 1], sum / (double)n, age, TAG_TTL_S, digest);
    if (from_cache != iterations)
        fprintf(stderr, "resolve_bench: only %ld of %ld calls were served from the cache\n",
                from_cache, iterations);
    else
        status = 0;
out:
    free(us);
    oci_store_close(store);
    oci_registry_free(registry);
    return status;
}
