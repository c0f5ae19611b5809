// The time-series store's ingest and queries in plain C on the system libsqlite3, for
// `sdk-bench storage`: same schema (copied from the SDK's own file), same pragmas, same SQL.
#include "ciot_bench.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

struct ciot_bench_storage {
    sqlite3 *db;
    sqlite3_stmt *insert;
    sqlite3_stmt *range;
    sqlite3_stmt *latest;
};

// The statements TimeSeriesStore runs (TimeSeriesSchema.insertPoint, readings, latest).
static const char *insert_sql = "INSERT OR IGNORE INTO iotsdk_ts_points (series_id, t, v) VALUES (?, ?, ?)";
static const char *range_sql = "SELECT t, v FROM iotsdk_ts_points WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t LIMIT ?";
static const char *latest_sql = "SELECT t, v FROM iotsdk_ts_points WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t DESC LIMIT ?";

static int fail(sqlite3 *db, char *error, int error_size, const char *what) {
    snprintf(error, (size_t)error_size, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

// Copies the page size and the iotsdk_ts_* schema of `from` into the empty database `to`.
static int copy_schema(sqlite3 *to, const char *from, char *error, int error_size) {
    sqlite3 *source = NULL;
    if (sqlite3_open_v2(from, &source, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fail(source, error, error_size, "opening the SDK database");
        sqlite3_close(source);
        return -1;
    }
    sqlite3_stmt *query = NULL;
    int rc = sqlite3_prepare_v2(source, "PRAGMA page_size", -1, &query, NULL);
    if (rc == SQLITE_OK && sqlite3_step(query) == SQLITE_ROW) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA page_size = %d", sqlite3_column_int(query, 0));
        rc = sqlite3_exec(to, pragma, NULL, NULL, NULL);
    }
    sqlite3_finalize(query);
    if (rc != SQLITE_OK) {
        fail(source, error, error_size, "reading the page size");
        sqlite3_close(source);
        return -1;
    }
    rc = sqlite3_prepare_v2(source,
        "SELECT sql FROM sqlite_master WHERE name LIKE 'iotsdk_ts_%' AND sql IS NOT NULL ORDER BY type = 'index', rowid",
        -1, &query, NULL);
    int tables = 0;
    while (rc == SQLITE_OK && sqlite3_step(query) == SQLITE_ROW) {
        if (sqlite3_exec(to, (const char *)sqlite3_column_text(query, 0), NULL, NULL, NULL) != SQLITE_OK) {
            fail(to, error, error_size, "creating the schema");
            rc = SQLITE_ERROR;
            break;
        }
        tables++;
    }
    sqlite3_finalize(query);
    sqlite3_close(source);
    if (rc == SQLITE_OK && tables == 0) {
        snprintf(error, (size_t)error_size, "%s has no iotsdk_ts_ tables to copy", from);
        return -1;
    }
    return rc == SQLITE_OK ? 0 : -1;
}

ciot_bench_storage *ciot_bench_storage_open(const char *path, const char *schema_from, int synchronous_full,
                                            char *error, int error_size) {
    if (error_size > 0) error[0] = 0;
    ciot_bench_storage *storage = calloc(1, sizeof *storage);
    if (!storage) {
        snprintf(error, (size_t)error_size, "out of memory");
        return NULL;
    }
    int ok = sqlite3_open_v2(path, &storage->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK;
    if (!ok) fail(storage->db, error, error_size, "opening");
    // The page size must be set before WAL mode, as on a new SDK database.
    ok = ok && copy_schema(storage->db, schema_from, error, error_size) == 0;
    if (ok) {
        char pragmas[160];
        snprintf(pragmas, sizeof pragmas, "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = %s; PRAGMA foreign_keys = ON",
                 synchronous_full ? "FULL" : "NORMAL");
        ok = sqlite3_exec(storage->db, pragmas, NULL, NULL, NULL) == SQLITE_OK;
        if (!ok) fail(storage->db, error, error_size, "setting the pragmas");
    }
    ok = ok && sqlite3_prepare_v3(storage->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &storage->insert, NULL) == SQLITE_OK
            && sqlite3_prepare_v3(storage->db, range_sql, -1, SQLITE_PREPARE_PERSISTENT, &storage->range, NULL) == SQLITE_OK
            && sqlite3_prepare_v3(storage->db, latest_sql, -1, SQLITE_PREPARE_PERSISTENT, &storage->latest, NULL) == SQLITE_OK;
    if (!ok) {
        if (storage->db && error[0] == 0) fail(storage->db, error, error_size, "preparing");
        ciot_bench_storage_close(storage);
        return NULL;
    }
    return storage;
}

int ciot_bench_storage_insert(ciot_bench_storage *storage, int64_t series_id, const int64_t *t,
                              const double *v, int64_t count) {
    int rc = sqlite3_exec(storage->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    for (int64_t i = 0; i < count; i++) {
        sqlite3_bind_int64(storage->insert, 1, series_id);
        sqlite3_bind_int64(storage->insert, 2, t[i]);
        sqlite3_bind_double(storage->insert, 3, v[i]);
        rc = sqlite3_step(storage->insert);
        sqlite3_reset(storage->insert);
        if (rc != SQLITE_DONE) {
            sqlite3_exec(storage->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return sqlite3_exec(storage->db, "COMMIT", NULL, NULL, NULL);
}

int64_t ciot_bench_storage_range(ciot_bench_storage *storage, int64_t series_id, int64_t from,
                                 int64_t to_inclusive, double *sum) {
    sqlite3_stmt *s = storage->range;
    sqlite3_bind_int64(s, 1, series_id);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to_inclusive);
    sqlite3_bind_int64(s, 4, -1);
    int64_t rows = 0;
    double total = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        total += sqlite3_column_double(s, 1) + (double)(sqlite3_column_int64(s, 0) & 1);
        rows++;
    }
    sqlite3_reset(s);
    *sum += total;
    return rc == SQLITE_DONE ? rows : -1;
}

int ciot_bench_storage_latest(ciot_bench_storage *storage, int64_t series_id, int64_t *t, double *v) {
    sqlite3_stmt *s = storage->latest;
    sqlite3_bind_int64(s, 1, series_id);
    sqlite3_bind_int64(s, 2, INT64_MIN);
    sqlite3_bind_int64(s, 3, INT64_MAX);
    sqlite3_bind_int64(s, 4, 1);
    int rc = sqlite3_step(s);
    int found = rc == SQLITE_ROW;
    if (found) {
        *t = sqlite3_column_int64(s, 0);
        *v = sqlite3_column_double(s, 1);
    }
    sqlite3_reset(s);
    return found ? 1 : (rc == SQLITE_DONE ? 0 : -1);
}

const char *ciot_bench_storage_error(ciot_bench_storage *storage) {
    return sqlite3_errmsg(storage->db);
}

void ciot_bench_storage_close(ciot_bench_storage *storage) {
    if (!storage) return;
    sqlite3_finalize(storage->insert);
    sqlite3_finalize(storage->range);
    sqlite3_finalize(storage->latest);
    sqlite3_close_v2(storage->db);
    free(storage);
}
