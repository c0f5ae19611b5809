// CIoTLinux: the AF_UNIX socket calls of the host–runner IPC channel (ModuleProtocol's Channel).
//
// Swift cannot use the CMSG_* macros (they do pointer arithmetic on the control buffer), and
// SO_PEERCRED's `struct ucred` is only declared with _GNU_SOURCE, which the Swift importer does
// not define. So the functions live in ciot_socket.c, compiled with _GNU_SOURCE, and this header
// declares them with plain types only. Every call retries on EINTR.
#ifndef CIOT_SOCKET_H
#define CIOT_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// The most descriptors one received message can carry: the control buffer of
/// `ciot_socket_receive` holds this many. A message with more arrives with MSG_CTRUNC set (the
/// kernel closes the descriptors that do not fit).
#define CIOT_SOCKET_MAX_FDS 8

/// `recvmsg` result flags, for the `msg_flags` out-parameter of `ciot_socket_receive`.
extern const int CIOT_SOCKET_MSG_TRUNC;
extern const int CIOT_SOCKET_MSG_CTRUNC;
/// Flag for `ciot_socket_send` / `ciot_socket_receive`: do not block (EAGAIN instead).
extern const int CIOT_SOCKET_MSG_DONTWAIT;

/// The peer process of a connected AF_UNIX socket, from SO_PEERCRED.
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} ciot_peer_credentials;

/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): two connected, close-on-exec sockets
/// that keep message boundaries. 0, or -1 with errno set.
int ciot_socket_pair(int fds[2]);

/// Sends `length` bytes as one message (sendmsg, MSG_NOSIGNAL: EPIPE instead of SIGPIPE), with
/// `fd_count` (0...CIOT_SOCKET_MAX_FDS) descriptors attached as SCM_RIGHTS. `flags` may add
/// CIOT_SOCKET_MSG_DONTWAIT. Returns the bytes sent, or -1 with errno set (EINVAL for a bad
/// fd_count).
ssize_t ciot_socket_send(int fd, const void *bytes, size_t length, const int *fds, int fd_count, int flags);

/// Receives one message (recvmsg with MSG_CMSG_CLOEXEC | MSG_TRUNC, so that the result is the
/// message's real length even when it did not fit in `capacity`). The descriptors of every
/// SCM_RIGHTS control message are stored in `fds` (room for CIOT_SOCKET_MAX_FDS) and counted in
/// `*fd_count`; the caller owns (and must close) them, also when it rejects the message.
/// `*msg_flags` receives msg_flags (CIOT_SOCKET_MSG_TRUNC, CIOT_SOCKET_MSG_CTRUNC).
/// Returns the message length (0: the peer closed), or -1 with errno set.
ssize_t ciot_socket_receive(int fd, void *buffer, size_t capacity, int flags, int *fds, int *fd_count, int *msg_flags);

/// 1 if `fd` is an AF_UNIX SOCK_SEQPACKET socket (SO_DOMAIN, SO_TYPE), 0 if it is another kind of
/// socket or no socket at all (ENOTSOCK), -1 with errno set on another error.
int ciot_socket_is_unix_seqpacket(int fd);

/// The credentials (SO_PEERCRED) of the peer of `fd`: for a socket from connect/accept, the
/// process that connected; for a socketpair, the process that created the pair (for both ends).
/// 0, or -1 with errno set.
int ciot_socket_peer_credentials(int fd, ciot_peer_credentials *credentials);

#endif
