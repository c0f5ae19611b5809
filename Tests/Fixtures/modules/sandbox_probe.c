/*
 * sandbox_probe.c: the part of the test module that looks at the sandbox it runs in
 * (Tests/PluginHostTests/SandboxTests.swift). Compiled into libtestmodule.so with testmodule.c;
 * everything here is static or prefixed `probe_`.
 *
 * hooks (call them as a hook symbol):
 *   probe_sandbox           writes what it finds into <data_dir>/probe.txt, one `key=value` a line,
 *                           and returns 0
 *   probe_fork_bomb         every process forks for ever; the first one writes
 *                           `forks=N errno=<name>` into <data_dir>/forkbomb.txt when fork fails,
 *                           then sleeps for ever
 *   probe_allocate_forever  allocates and touches 1 MiB after 1 MiB for ever, writing the MiB so far
 *                           into <data_dir>/allocated.txt every 4 MiB
 *
 * start entry point probe_start (stop: probe_stop), chosen by the words of <module_dir>/behavior
 * (the file testmodule.c reads too):
 *   (nothing)               ready, then a heartbeat every 100 ms until should_stop()
 *   probe-allocate-forever  ready, then probe_allocate_forever
 *   probe-fork-bomb         ready, then probe_fork_bomb
 *   probe-orphans           before ready: 5 times, forks a child that forks a grandchild and exits
 *                           at once (the grandchild, an orphan, exits 200 ms later); 1 s later
 *                           writes `zombies=N processes=M` (from /proc) into <data_dir>/zombies.txt;
 *                           then as (nothing)
 */
#include "iotsdk_module.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#define EXPORT __attribute__((visibility("default")))

static void probe_sleep_ms(long milliseconds) {
    struct timespec t = { milliseconds / 1000, (milliseconds % 1000) * 1000000L };
    while (nanosleep(&t, &t) == -1 && errno == EINTR) {}
}

static const char *errno_name(int code) {
    switch (code) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case ENXIO: return "ENXIO";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    default: return strerror(code);
    }
}

static int probe_has(const iotsdk_host *host, const char *word) {
    char path[4096], text[4096];
    snprintf(path, sizeof path, "%s/behavior", host->module_dir);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    size_t n = fread(text, 1, sizeof text - 1, file);
    text[n] = 0;
    fclose(file);
    char *save = NULL;
    for (char *token = strtok_r(text, " \t\r\n", &save); token; token = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(token, word) == 0) return 1;
    }
    return 0;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of a directory, sorted, comma-separated (numeric ones only if `numeric`). */
static void list_directory(const char *path, int numeric, char *out, size_t size) {
    char *names[512];
    int count = 0;
    out[0] = 0;
    DIR *directory = opendir(path);
    if (!directory) {
        snprintf(out, size, "!%s", errno_name(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(directory)) && count < 512) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        if (numeric && (entry->d_name[0] < '0' || entry->d_name[0] > '9')) continue;
        names[count++] = strdup(entry->d_name);
    }
    closedir(directory);
    qsort(names, count, sizeof names[0], compare_strings);
    for (int i = 0; i < count; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? "," : "", names[i]);
        free(names[i]);
    }
}

/* The value of `key:` in /proc/self/status, trimmed. */
static void status_field(const char *key, char *out, size_t size) {
    char line[512];
    size_t length = strlen(key);
    snprintf(out, size, "?");
    FILE *file = fopen("/proc/self/status", "r");
    if (!file) return;
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, key, length) == 0 && line[length] == ':') {
            char *value = line + length + 1;
            while (*value == ' ' || *value == '\t') value++;
            value[strcspn(value, "\n")] = 0;
            snprintf(out, size, "%s", value);
        }
    }
    fclose(file);
}

/* The interface names of /proc/net/dev, comma-separated. */
static void interfaces(char *out, size_t size) {
    char line[512];
    int count = 0;
    out[0] = 0;
    FILE *file = fopen("/proc/net/dev", "r");
    if (!file) {
        snprintf(out, size, "!%s", errno_name(errno));
        return;
    }
    while (fgets(line, sizeof line, file)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *name = line;
        while (*name == ' ') name++;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", count++ ? "," : "", name);
    }
    fclose(file);
}

static const char *open_result(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return "opened";
    }
    return errno_name(errno);
}

static const char *create_result(const char *directory) {
    char path[4096];
    snprintf(path, sizeof path, "%s/.probe-write-test", directory);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_name(errno);
    close(fd);
    unlink(path);
    return "created";
}

EXPORT int32_t probe_sandbox(const iotsdk_host *host) {
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/probe.txt", host->data_dir);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "probe: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(out, "module_dir=%s\n", host->module_dir);
    fprintf(out, "data_dir=%s\n", host->data_dir);
    fprintf(out, "pid=%d\n", (int)getpid());
    fprintf(out, "uid=%d\n", (int)getuid());
    fprintf(out, "gid=%d\n", (int)getgid());
    struct stat info;
    fprintf(out, "sys=%s\n", stat("/sys", &info) == 0 ? "present" : errno_name(errno));
    list_directory("/proc", 1, text, sizeof text);
    fprintf(out, "proc_pids=%s\n", text);
    list_directory("/", 0, text, sizeof text);
    fprintf(out, "root=%s\n", text);
    list_directory("/dev", 0, text, sizeof text);
    fprintf(out, "dev=%s\n", text);
    list_directory("/etc", 0, text, sizeof text);
    fprintf(out, "etc=%s\n", text);
    gethostname(text, sizeof text);
    fprintf(out, "hostname=%s\n", text);
    interfaces(text, sizeof text);
    fprintf(out, "interfaces=%s\n", text);
    fprintf(out, "open_dev_sda=%s\n", open_result("/dev/sda", O_RDONLY));
    fprintf(out, "open_dev_mem=%s\n", open_result("/dev/mem", O_RDONLY));
    fprintf(out, "open_dev_null=%s\n", open_result("/dev/null", O_RDWR));
    fprintf(out, "open_proc_kcore=%s\n", open_result("/proc/kcore", O_RDONLY));
    fprintf(out, "write_proc_sys=%s\n", open_result("/proc/sys/kernel/hostname", O_WRONLY));
    fprintf(out, "write_module=%s\n", create_result(host->module_dir));
    fprintf(out, "write_data=%s\n", create_result(host->data_dir));
    fprintf(out, "write_tmp=%s\n", create_result("/tmp"));
    fprintf(out, "write_root=%s\n", create_result(""));
    fprintf(out, "mknod=%s\n", mknod("/tmp/probe-null", S_IFCHR | 0666, makedev(1, 3)) == 0 ? "made" : errno_name(errno));
    unlink("/tmp/probe-null");
    fprintf(out, "mount=%s\n", mount("none", "/tmp", "tmpfs", 0, NULL) == 0 ? "mounted" : errno_name(errno));
    fprintf(out, "sethostname=%s\n", sethostname("changed", 7) == 0 ? "changed" : errno_name(errno));
    status_field("CapEff", text, sizeof text);
    fprintf(out, "cap_eff=%s\n", text);
    status_field("CapPrm", text, sizeof text);
    fprintf(out, "cap_prm=%s\n", text);
    status_field("CapBnd", text, sizeof text);
    fprintf(out, "cap_bnd=%s\n", text);
    status_field("CapAmb", text, sizeof text);
    fprintf(out, "cap_amb=%s\n", text);
    status_field("NoNewPrivs", text, sizeof text);
    fprintf(out, "no_new_privs=%s\n", text);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    fprintf(out, "nofile=%llu\n", (unsigned long long)limit.rlim_cur);
    getrlimit(RLIMIT_CORE, &limit);
    fprintf(out, "core=%llu\n", (unsigned long long)limit.rlim_cur);
    fprintf(out, "home=%s\n", getenv("HOME") ? getenv("HOME") : "");
    fprintf(out, "path_env=%s\n", getenv("PATH") ? getenv("PATH") : "");
    /* The loopback interface is up if a UDP socket can bind to 127.0.0.1. */
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fprintf(out, "loopback=%s\n", sock >= 0 && bind(sock, (struct sockaddr *)&address, sizeof address) == 0 ? "up" : errno_name(errno));
    if (sock >= 0) close(sock);
    FILE *cgroup = fopen("/proc/self/cgroup", "r");
    if (cgroup) {
        size_t n = fread(text, 1, sizeof text - 1, cgroup);
        text[n] = 0;
        fclose(cgroup);
        for (char *c = text; *c; c++) if (*c == '\n') *c = ';';
        fprintf(out, "cgroup=%s\n", text);
    }
    fclose(out);
    printf("probe: wrote %s\n", path);
    return 0;
}

/* ---- fork bomb ---- */

EXPORT int32_t probe_fork_bomb(const iotsdk_host *host) {
    char path[4096];
    int forks = 0, failure = 0;
    fflush(NULL);
    for (;;) {
        pid_t child = fork();
        if (child == 0) {
            /* Every child forks for ever too, and never writes. */
            for (;;) {
                if (fork() < 0) probe_sleep_ms(5);
            }
        }
        if (child < 0) {
            failure = errno;
            break;
        }
        forks++;
    }
    snprintf(path, sizeof path, "%s/forkbomb.txt", host->data_dir);
    FILE *out = fopen(path, "w");
    if (out) {
        fprintf(out, "forks=%d errno=%s\n", forks, errno_name(failure));
        fclose(out);
    }
    printf("probe: fork failed after %d forks: %s\n", forks, errno_name(failure));
    fflush(stdout);
    for (;;) probe_sleep_ms(1000);
}

/* ---- memory hog ---- */

EXPORT int32_t probe_allocate_forever(const iotsdk_host *host) {
    char path[4096];
    snprintf(path, sizeof path, "%s/allocated.txt", host->data_dir);
    for (long mebibytes = 1;; mebibytes++) {
        char *block = malloc(1 << 20);
        if (!block) {
            probe_sleep_ms(10);
            continue;
        }
        memset(block, (int)mebibytes, 1 << 20);
        if (mebibytes % 4 == 0) {
            FILE *out = fopen(path, "w");
            if (out) {
                fprintf(out, "%ld\n", mebibytes);
                fclose(out);
            }
        }
    }
}

/* ---- start and stop ---- */

static void make_orphans(const iotsdk_host *host) {
    char path[4096], line[512];
    for (int i = 0; i < 5; i++) {
        pid_t child = fork();
        if (child == 0) {
            if (fork() == 0) {
                probe_sleep_ms(200);
                _exit(0);
            }
            _exit(0);
        }
        if (child > 0) waitpid(child, NULL, 0);
    }
    probe_sleep_ms(1000);
    int zombies = 0, processes = 0;
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir(proc))) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file) continue;
        processes++;
        if (fgets(line, sizeof line, file)) {
            char *close_paren = strrchr(line, ')');
            if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z') zombies++;
        }
        fclose(file);
    }
    if (proc) closedir(proc);
    snprintf(path, sizeof path, "%s/zombies.txt", host->data_dir);
    FILE *out = fopen(path, "w");
    if (out) {
        fprintf(out, "zombies=%d processes=%d\n", zombies, processes);
        fclose(out);
    }
}

EXPORT int32_t probe_start(const iotsdk_host *host) {
    printf("probe_start: pid %d\n", (int)getpid());
    if (probe_has(host, "probe-orphans")) make_orphans(host);
    host->ready(host);
    if (probe_has(host, "probe-allocate-forever")) probe_allocate_forever(host);
    if (probe_has(host, "probe-fork-bomb")) probe_fork_bomb(host);
    while (!host->should_stop(host)) {
        host->heartbeat(host);
        probe_sleep_ms(100);
    }
    printf("probe_start returns after should_stop\n");
    return 0;
}

EXPORT int32_t probe_stop(const iotsdk_host *host) {
    (void)host;
    printf("probe_stop called\n");
    return 0;
}
