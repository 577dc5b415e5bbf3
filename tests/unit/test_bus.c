/* src/bus/bus.c: host tokens, partitions, subjects, the server list, the
 * credentials file (its mode check and its syntax) and a connection that
 * starts without a server. What needs a real nats-server is in tests/fleet. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "bus/bus.h"

static void token_expect(const char *in, const char *want)
{
    char out[STOAT_BUS_TOKEN_MAX + 1];
    size_t n = stoat_bus_host_token(in, in ? strlen(in) : 0, out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
}

static void test_token(void **state)
{
    (void)state;
    token_expect("FS01", "fs01");
    token_expect("dc01.corp.example", "dc01_corp_example");
    token_expect("web-2_a", "web-2_a");
    token_expect("a b*c>d", "a_b_c_d");
    token_expect("", "unknown");
    token_expect(NULL, "unknown");
    token_expect("\xc3\xa9t\xc3\xa9", "__t__");
    /* 64 bytes stay whole; 65 are cut to 55 plus '-' and the hash of the whole name */
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = 0;
    memset(n65, 'a', 65);
    n65[65] = 0;
    token_expect(n64, n64);
    char out[STOAT_BUS_TOKEN_MAX + 1];
    size_t n = stoat_bus_host_token(n65, 65, out);
    assert_int_equal(n, 64);
    char want[80];
    snprintf(want, sizeof want, "%.55s-%08x", n65, stoat_bus_fnv1a(n65, 65));
    assert_string_equal(out, want);
    /* two long names differing only at the end get different tokens */
    char other[66];
    memcpy(other, n65, 66);
    other[64] = 'b';
    char out2[STOAT_BUS_TOKEN_MAX + 1];
    stoat_bus_host_token(other, 65, out2);
    assert_string_not_equal(out, out2);
}

static void test_fnv_partition(void **state)
{
    (void)state;
    /* FNV-1a's published test values */
    assert_int_equal(stoat_bus_fnv1a("", 0), 0x811c9dc5u);
    assert_int_equal(stoat_bus_fnv1a("a", 1), 0xe40c292cu);
    assert_int_equal(stoat_bus_fnv1a("foobar", 6), 0xbf9cf968u);
    assert_int_equal(bus_partition("foobar", 16), 0xbf9cf968u % 16);
    assert_int_equal(bus_partition("foobar", 1), 0);
    assert_int_equal(bus_partition("foobar", 0), 0);
    /* every partition is below the count */
    for (unsigned i = 0; i < 200; i++) {
        char t[16];
        snprintf(t, sizeof t, "host%u", i);
        assert_true(bus_partition(t, 7) < 7);
    }
}

static void test_subjects(void **state)
{
    (void)state;
    char s[BUS_SUBJECT_MAX];
    assert_int_equal(bus_subject_events(s, "fs01", 3), strlen("stoat.ev.fs01.3"));
    assert_string_equal(s, "stoat.ev.fs01.3");
    bus_subject_alerts(s, "fs01");
    assert_string_equal(s, "stoat.al.fs01");
    bus_subject_heartbeat(s, "fs01");
    assert_string_equal(s, "stoat.hb.fs01");
    /* the longest token and partition fit */
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    memset(tok, 'x', STOAT_BUS_TOKEN_MAX);
    tok[STOAT_BUS_TOKEN_MAX] = 0;
    size_t n = bus_subject_events(s, tok, BUS_MAX_PARTITIONS - 1);
    assert_true(n < BUS_SUBJECT_MAX);
    assert_int_equal(strlen(s), n);
}

static void test_split_servers(void **state)
{
    (void)state;
    char buf[256];
    const char *v[4];
    size_t n = bus_split_servers("nats://a:1, nats://b:2,,tls://c:3", buf, sizeof buf, v, 4);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "nats://a:1");
    assert_string_equal(v[1], "nats://b:2");
    assert_string_equal(v[2], "tls://c:3");
    assert_int_equal(bus_split_servers(NULL, buf, sizeof buf, v, 4), 0);
    assert_int_equal(bus_split_servers("a,b,c", buf, sizeof buf, v, 2), 2);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_creds(void **state)
{
    (void)state;
    char dir[] = "/tmp/stoat-bus-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/host.creds", dir);
    struct bus_creds c;
    char why[512];

    write_file(path, "# stoat fleet credentials for host fs01\n\nuser: fs01\npassword:  s3cret pw \r\n", 0600);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_OK);
    assert_string_equal(c.user, "fs01");
    assert_string_equal(c.password, "s3cret pw");

    /* what bus_creds_format writes reads back */
    char text[1024];
    bus_creds_format(text, sizeof text, "fs01", &c);
    write_file(path, text, 0400);
    struct bus_creds back;
    assert_int_equal(bus_creds_load(path, &back, why, sizeof why), STOAT_OK);
    assert_string_equal(back.user, "fs01");
    assert_string_equal(back.password, "s3cret pw");

    /* readable by the group: refused, and the reason names the mode */
    write_file(path, "user: a\npassword: b\n", 0640);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_CONFIG);
    assert_non_null(strstr(why, "640"));
    assert_string_equal(c.user, "");
    write_file(path, "user: a\npassword: b\n", 0604);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_CONFIG);

    /* syntax: a line without a colon, an unknown key, a missing password */
    write_file(path, "user: a\nnonsense\n", 0600);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_CONFIG);
    assert_non_null(strstr(why, ":2:"));
    write_file(path, "user: a\ntoken: b\n", 0600);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_CONFIG);
    assert_non_null(strstr(why, "token"));
    write_file(path, "user: a\n", 0600);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_CONFIG);

    /* over the size cap */
    char *big = malloc(BUS_CREDS_MAX + 100);
    assert_non_null(big);
    memset(big, '#', BUS_CREDS_MAX + 99);
    big[BUS_CREDS_MAX + 99] = 0;
    write_file(path, big, 0600);
    free(big);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_LIMIT);

    /* absent; a folder */
    unlink(path);
    assert_int_equal(bus_creds_load(path, &c, why, sizeof why), STOAT_ERR_IO);
    assert_int_equal(bus_creds_load(dir, &c, why, sizeof why), STOAT_ERR_CONFIG);
    rmdir(dir);
}

/* A port nobody listens on: the connection is made anyway, CONNECTING, and
 * it retries in the background; a bad URL and a too open credentials file
 * are errors at once. */
static void test_connect_without_server(void **state)
{
    (void)state;
    const char *servers[] = {"nats://127.0.0.1:1"};
    struct stoat_bus_opts o = {.servers = servers, .nservers = 1, .connect_wait_ms = 50};
    struct stoat_bus_conn *c = NULL;
    char why[512] = "";
    assert_int_equal(stoat_bus_connect(&o, &c, why, sizeof why), STOAT_OK);
    assert_non_null(c);
    assert_int_not_equal(bus_conn_state(c), STOAT_BUS_CONNECTED);
    assert_false(stoat_bus_conn_wait(c, 10));
    char url[64];
    bus_conn_url(c, url, sizeof url);
    assert_string_equal(url, "");
    stoat_bus_close(c);

    const char *bad[] = {"http://127.0.0.1:1"};
    o.servers = bad;
    c = NULL;
    assert_int_equal(stoat_bus_connect(&o, &c, why, sizeof why), STOAT_ERR_ARG);
    assert_null(c);
    assert_non_null(strstr(why, "http://"));

    char dir[] = "/tmp/stoat-bus-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/c", dir);
    write_file(path, "user: a\npassword: b\n", 0644);
    o.servers = servers;
    o.creds = path;
    assert_int_equal(stoat_bus_connect(&o, &c, why, sizeof why), STOAT_ERR_CONFIG);
    assert_null(c);
    o.creds = NULL;
    o.tls_ca = "/nonexistent/ca.pem";
    assert_int_equal(stoat_bus_connect(&o, &c, why, sizeof why), STOAT_ERR_IO);
    assert_non_null(strstr(why, "CA"));
    unlink(path);
    rmdir(dir);
    stoat_bus_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),    cmocka_unit_test(test_fnv_partition),
        cmocka_unit_test(test_subjects), cmocka_unit_test(test_split_servers),
        cmocka_unit_test(test_creds),    cmocka_unit_test(test_connect_without_server),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    stoat_bus_shutdown();
    return rc;
}
