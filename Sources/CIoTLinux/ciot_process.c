#define _GNU_SOURCE
#include "ciot_process.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

int ciot_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ciot_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

// Looked up once, when first used, rather than linked: a host built against glibc 2.34 or later
// still starts on a device with an older one (Raspberry Pi OS 11 has 2.31).
typedef int (*close_from_t)(posix_spawn_file_actions_t *, int);
static close_from_t close_from;
static pthread_once_t close_from_once = PTHREAD_ONCE_INIT;
static void look_up_close_from(void) {
    close_from = (close_from_t)dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np");
}

int ciot_spawn_add_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    pthread_once(&close_from_once, look_up_close_from);
    return close_from ? close_from(actions, lowest) : ENOSYS;
}
