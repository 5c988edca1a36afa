/* liboci's libraries loaded on first use (oci/lazy.h): the loader's failures are reported, not
 * crashed on, and the real libcurl and libarchive load under the sonames the stubs name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <curl/curl.h>

#include "../../oci/lazy.h"

static void
test_lazy_missing_library(void **state)
{
    (void)state;
    static const char *const names[] = {"anything"};
    void *slots[1] = {0};
    struct lazy_lib lib = {"libboxer-no-such-library.so.0", names, slots, 1, false, ""};
    assert_false(lazy_load(&lib));
    assert_non_null(strstr(lib.error, "cannot load libboxer-no-such-library.so.0"));
    /* asked again: the same answer, no second attempt (a second one would now succeed) */
    static const char *const loadable[] = {"getpid"};
    lib.soname = "libc.so.6";
    lib.names = loadable;
    assert_false(lazy_load(&lib));
    assert_false(lib.loaded);
}

static void
test_lazy_missing_function(void **state)
{
    (void)state;
    static const char *const names[] = {"getpid", "boxer_no_such_function"};
    void *slots[2] = {0};
    struct lazy_lib lib = {"libc.so.6", names, slots, 2, false, ""};
    assert_false(lazy_load(&lib));
    assert_string_equal(lib.error, "libc.so.6 has no boxer_no_such_function");
}

static void
test_lazy_loads(void **state)
{
    (void)state;
    static const char *const names[] = {"getpid"};
    void *slots[1] = {0};
    struct lazy_lib lib = {"libc.so.6", names, slots, 1, false, ""};
    assert_true(lazy_load(&lib));
    assert_true(lazy_load(&lib));
    pid_t (*fn)(void) = (pid_t(*)(void))slots[0];
    assert_int_equal(fn(), getpid());
}

/* The stubs reach the installed libraries. */
static void
test_lazy_real_libraries(void **state)
{
    (void)state;
    assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    assert_string_equal(curl_easy_strerror(CURLE_OK), "No error");
    CURL *h = curl_easy_init();
    assert_non_null(h);
    /* a long, a pointer and a function pointer option pass through the variadic stub */
    assert_int_equal(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:9/"), CURLE_OK);
    char *url = NULL;
    assert_int_equal(curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url), CURLE_OK);
    assert_string_equal(url, "http://127.0.0.1:9/");
    curl_easy_cleanup(h);
    struct archive *a = archive_read_new();
    assert_non_null(a);
    assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
    archive_read_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_missing_library),
        cmocka_unit_test(test_lazy_missing_function),
        cmocka_unit_test(test_lazy_loads),
        cmocka_unit_test(test_lazy_real_libraries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
