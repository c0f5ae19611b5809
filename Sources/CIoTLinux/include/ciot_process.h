// ciot_process.h: process and descriptor calls that Swift's Glibc module does not declare (GNU
// extensions and newer system calls), for the host's runner spawning. Each returns what the call
// returns, with errno set by it.
#ifndef CIOT_PROCESS_H
#define CIOT_PROCESS_H

#include <spawn.h>
#include <sys/types.h>

/// pipe2(fds, O_CLOEXEC): a pipe that is close-on-exec from birth, so that no runner spawned
/// by another thread at the same moment inherits it.
int ciot_pipe_cloexec(int fds[2]);

/// pidfd_open(pid, 0) (Linux 5.3): a descriptor that becomes readable when the process exits;
/// -1 with errno ENOSYS on an older kernel.
int ciot_pidfd_open(pid_t pid);

/// posix_spawn_file_actions_addclosefrom_np(actions, lowest) (glibc 2.34): the child closes
/// every descriptor from `lowest` up. Returns ENOSYS where the C library lacks it (the caller
/// relies on close-on-exec then).
int ciot_spawn_add_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
