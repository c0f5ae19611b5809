/*
 * testmodule.c: a module for the PluginHost tests (Tests/PluginHostTests/TestModule.swift builds it
 * at run time with `cc -shared -fPIC -O1 -I Sources/CIoTModule/include ... -lsqlite3 -lpthread`).
 * It lives outside every SwiftPM target's folder so that SwiftPM does not compile it.
 *
 * What it does is chosen at run time by the file `behavior` in module_dir: words separated by
 * white space.
 *
 * start entry point (module_start) and stop entry point (module_stop):
 *   (nothing)           ready, then start returns 0 at once
 *   blocking            start blocks until should_stop() and then returns 0
 *   heartbeat           a thread sends a heartbeat every 100 ms until should_stop()
 *   stop-heartbeat      ready, 2 heartbeats 100 ms apart, then silence
 *   never-ready         never calls ready()
 *   crash-after-ready   abort() about 200 ms after ready()
 *   exit-early          start returns 1 before ready()
 *   stop-hang           module_stop sleeps for ever
 *   fork-child          forks a child that sleeps for ever; its pid goes to <data_dir>/child.pid
 *                       (written before ready())
 *   write-rows N        inserts N rows into readings in <data_dir>/app.db before ready()
 *   unshare-user        tries unshare(CLONE_NEWUSER) before ready() and prints what happened
 *
 * hooks (module_verify, module_install, module_start_hook, module_health, module_commit,
 * module_rollback, module_failure), keyed by the hook's name, e.g. `hook-install=fail`:
 *   succeed (default)   return 0
 *   fail                return 1
 *   hang                sleep for ever
 *   crash               abort()
 *   check-schema-N      return 0 only if app.db's user_version is N and, for N >= 2, readings
 *                       has the column note
 *   check-rows-N        return 0 only if readings holds N rows
 *   chatty              print 4000 numbered lines of 100 bytes (400 KB), then return 0
 * Every hook prints `hook <name> ran (version <v>)` to stdout, logs through the host, and appends
 * `<step> <version>` to <data_dir>/hooks.log. The install hook also migrates <data_dir>/app.db as
 * the file `migration` in module_dir says: `schema 1` (table readings(value REAL), user_version
 * 1) or `schema 2` (adds the column note TEXT, user_version 1 → 2), in one transaction.
 */
#include "iotsdk_module.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- behaviour words ---- */

static char behavior_text[4096];

static void read_file(const char *dir, const char *name, char *buffer, size_t size) {
    char path[4096];
    buffer[0] = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "r");
    if (!file) return;
    size_t n = fread(buffer, 1, size - 1, file);
    buffer[n] = 0;
    fclose(file);
}

static void load_behavior(const iotsdk_host *host) {
    read_file(host->module_dir, "behavior", behavior_text, sizeof behavior_text);
}

/* The word after `word` (its value), copied into value; 1 if `word` is present. */
static int find_word(const char *word, char *value, size_t value_size) {
    char copy[sizeof behavior_text];
    char *save = NULL;
    strcpy(copy, behavior_text);
    for (char *token = strtok_r(copy, " \t\r\n", &save); token; token = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(token, word) == 0) {
            if (value) {
                char *next = strtok_r(NULL, " \t\r\n", &save);
                snprintf(value, value_size, "%s", next ? next : "");
            }
            return 1;
        }
    }
    return 0;
}

static int has(const char *word) { return find_word(word, NULL, 0); }

/* The behaviour of hook `name` (`hook-<name>=<behaviour>`), or "succeed". */
static void hook_behavior(const char *name, char *out, size_t size) {
    char copy[sizeof behavior_text], prefix[64];
    char *save = NULL;
    snprintf(prefix, sizeof prefix, "hook-%s=", name);
    snprintf(out, size, "succeed");
    strcpy(copy, behavior_text);
    for (char *token = strtok_r(copy, " \t\r\n", &save); token; token = strtok_r(NULL, " \t\r\n", &save)) {
        if (strncmp(token, prefix, strlen(prefix)) == 0) snprintf(out, size, "%s", token + strlen(prefix));
    }
}

static void sleep_ms(long milliseconds) {
    struct timespec t = { milliseconds / 1000, (milliseconds % 1000) * 1000000L };
    while (nanosleep(&t, &t) == -1 && errno == EINTR) {}
}

static void sleep_forever(void) {
    for (;;) sleep_ms(1000);
}

/* ---- SQLite ---- */

static sqlite3 *open_database(const iotsdk_host *host) {
    char path[4096];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/app.db", host->data_dir);
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "testmodule: cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int user_version(sqlite3 *db) {
    sqlite3_stmt *statement = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, NULL) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW)
        version = sqlite3_column_int(statement, 0);
    sqlite3_finalize(statement);
    return version;
}

static int has_column(sqlite3 *db, const char *table, const char *column) {
    char sql[256];
    sqlite3_stmt *statement = NULL;
    int found = 0;
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) return 0;
    while (sqlite3_step(statement) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(statement, 1);
        if (name && strcmp((const char *)name, column) == 0) found = 1;
    }
    sqlite3_finalize(statement);
    return found;
}

static int exec(sqlite3 *db, const char *sql) {
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        fprintf(stderr, "testmodule: %s failed: %s\n", sql, message ? message : "?");
        sqlite3_free(message);
        return 1;
    }
    return 0;
}

/* Migrates app.db to `target` (1 or 2) in one transaction; 0 on success. */
static int migrate(const iotsdk_host *host, int target) {
    sqlite3 *db = open_database(host);
    if (!db) return 1;
    int failed = exec(db, "BEGIN IMMEDIATE");
    if (!failed) failed = exec(db, "CREATE TABLE IF NOT EXISTS readings(value REAL)");
    int from = failed ? -1 : user_version(db);
    if (!failed && from < 1) failed = exec(db, "PRAGMA user_version = 1");
    if (!failed && target >= 2 && from < 2) {
        if (!has_column(db, "readings", "note")) failed = exec(db, "ALTER TABLE readings ADD COLUMN note TEXT");
        if (!failed) failed = exec(db, "PRAGMA user_version = 2");
    }
    if (!failed) failed = exec(db, "COMMIT");
    if (failed) exec(db, "ROLLBACK");
    else printf("migrated app.db from user_version %d to %d\n", from, user_version(db));
    sqlite3_close(db);
    return failed;
}

static int check_schema(const iotsdk_host *host, int expected) {
    sqlite3 *db = open_database(host);
    if (!db) return 1;
    int version = user_version(db);
    int ok = version == expected && (expected < 2 || has_column(db, "readings", "note"));
    printf("app.db user_version %d, expected %d: %s\n", version, expected, ok ? "ok" : "wrong");
    sqlite3_close(db);
    return ok ? 0 : 1;
}

static int check_rows(const iotsdk_host *host, int expected) {
    sqlite3 *db = open_database(host);
    if (!db) return 1;
    sqlite3_stmt *statement = NULL;
    int rows = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM readings", -1, &statement, NULL) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW)
        rows = sqlite3_column_int(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    printf("readings holds %d rows, expected %d\n", rows, expected);
    return rows == expected ? 0 : 1;
}

static int write_rows(const iotsdk_host *host, int count) {
    sqlite3 *db = open_database(host);
    if (!db) return 1;
    int failed = exec(db, "CREATE TABLE IF NOT EXISTS readings(value REAL)") || exec(db, "BEGIN");
    for (int i = 0; i < count && !failed; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO readings(value) VALUES (%d.5)", i);
        failed = exec(db, sql);
    }
    failed = failed || exec(db, "COMMIT");
    sqlite3_close(db);
    return failed;
}

/* ---- hooks ---- */

static int run_hook(const iotsdk_host *host, const char *name) {
    char behavior[256], path[4096], message[512];
    load_behavior(host);
    hook_behavior(name, behavior, sizeof behavior);
    printf("hook %s ran (version %s)\n", name, host->module_version);
    snprintf(message, sizeof message, "hook %s: %s", name, behavior);
    host->log(host, IOTSDK_LOG_INFO, message);

    snprintf(path, sizeof path, "%s/hooks.log", host->data_dir);
    FILE *log = fopen(path, "a");
    if (log) {
        fprintf(log, "%s %s\n", host->step, host->module_version);
        fclose(log);
    }

    if (strcmp(name, "install") == 0) {
        char migration[256];
        read_file(host->module_dir, "migration", migration, sizeof migration);
        int target = 0;
        if (sscanf(migration, "schema %d", &target) == 1 && target > 0 && migrate(host, target) != 0) return 1;
    }

    if (strcmp(behavior, "fail") == 0) return 1;
    if (strcmp(behavior, "hang") == 0) { fflush(stdout); sleep_forever(); }
    if (strcmp(behavior, "crash") == 0) { fflush(stdout); abort(); }
    if (strcmp(behavior, "chatty") == 0) {
        for (int i = 0; i < 4000; i++) printf("chatty line %04d %0*d\n", i, 100 - 18, 0);
        return 0;
    }
    int expected = 0;
    if (sscanf(behavior, "check-schema-%d", &expected) == 1) return check_schema(host, expected);
    if (sscanf(behavior, "check-rows-%d", &expected) == 1) return check_rows(host, expected);
    return 0;
}

EXPORT int32_t module_verify(const iotsdk_host *host) { return run_hook(host, "verify"); }
EXPORT int32_t module_install(const iotsdk_host *host) { return run_hook(host, "install"); }
EXPORT int32_t module_start_hook(const iotsdk_host *host) { return run_hook(host, "start"); }
EXPORT int32_t module_health(const iotsdk_host *host) { return run_hook(host, "health"); }
EXPORT int32_t module_commit(const iotsdk_host *host) { return run_hook(host, "commit"); }
EXPORT int32_t module_rollback(const iotsdk_host *host) { return run_hook(host, "rollback"); }
EXPORT int32_t module_failure(const iotsdk_host *host) { return run_hook(host, "failure"); }

/* ---- start and stop ---- */

static void *heartbeat_thread(void *argument) {
    const iotsdk_host *host = argument;
    int limit = has("stop-heartbeat") ? 2 : -1;
    for (int sent = 0; (limit < 0 || sent < limit) && !host->should_stop(host); sent++) {
        host->heartbeat(host);
        sleep_ms(100);
    }
    return NULL;
}

static long crash_delay_ms = 200;

static void *crash_thread(void *argument) {
    (void)argument;
    sleep_ms(crash_delay_ms);
    fprintf(stderr, "testmodule: crashing on purpose\n");
    abort();
}

static void spawn_thread(void *(*body)(void *), const iotsdk_host *host) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, body, (void *)host) == 0) pthread_detach(thread);
}

static int fork_child(const iotsdk_host *host) {
    char path[4096], temporary[4096];
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        for (;;) pause();
    }
    snprintf(path, sizeof path, "%s/child.pid", host->data_dir);
    snprintf(temporary, sizeof temporary, "%s/child.pid.tmp", host->data_dir);
    FILE *file = fopen(temporary, "w");
    if (!file) return 1;
    fprintf(file, "%d\n", (int)child);
    fclose(file);
    return rename(temporary, path) == 0 ? 0 : 1;
}

EXPORT int32_t module_start(const iotsdk_host *host) {
    char value[64];
    load_behavior(host);
    printf("module %s %s starting (abi %u, table of %u bytes, step %s)\n", host->module_id, host->module_version,
           host->abi, host->size, host->step);
    if (host->size >= offsetof(iotsdk_host, storage_quota_bytes) + sizeof host->storage_quota_bytes)
        printf("storage quota %llu bytes\n", (unsigned long long)host->storage_quota_bytes);
    if (has("exit-early")) {
        fprintf(stderr, "testmodule: exit-early\n");
        return 1;
    }
    if (find_word("write-rows", value, sizeof value) && write_rows(host, atoi(value)) != 0) return 1;
    if (has("fork-child") && fork_child(host) != 0) return 1;
    if (has("unshare-user")) {
        int rc = (int)syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */);
        printf("unshare(CLONE_NEWUSER): %s\n", rc == 0 ? "created" : strerror(errno));
    }
    if (!has("never-ready")) host->ready(host);
    if (has("heartbeat") || has("stop-heartbeat")) spawn_thread(heartbeat_thread, host);
    if (has("crash-after-ready")) spawn_thread(crash_thread, host);
    /* crash-after-ms N: runs (and heartbeats) for N ms, then aborts; outlives a short health check. */
    if (find_word("crash-after-ms", value, sizeof value)) {
        crash_delay_ms = atol(value);
        spawn_thread(crash_thread, host);
    }
    if (has("blocking")) {
        while (!host->should_stop(host)) sleep_ms(10);
        printf("module start returns after should_stop\n");
    }
    return 0;
}

EXPORT int32_t module_stop(const iotsdk_host *host) {
    (void)host;
    printf("module stop called\n");
    if (has("stop-hang")) {
        fflush(stdout);
        sleep_forever();
    }
    return 0;
}
