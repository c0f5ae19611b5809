// The AF_UNIX socket calls of ciot_socket.h. _GNU_SOURCE for struct ucred, SO_PEERCRED and
// MSG_CMSG_CLOEXEC; it must come before the first system header.
#define _GNU_SOURCE
#include "ciot_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const int CIOT_SOCKET_MSG_TRUNC = MSG_TRUNC;
const int CIOT_SOCKET_MSG_CTRUNC = MSG_CTRUNC;
const int CIOT_SOCKET_MSG_DONTWAIT = MSG_DONTWAIT;

_Static_assert(sizeof(ciot_peer_credentials) == sizeof(struct ucred), "ciot_peer_credentials mirrors struct ucred");

/// A control buffer for CIOT_SOCKET_MAX_FDS descriptors, aligned for struct cmsghdr.
typedef union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(int) * CIOT_SOCKET_MAX_FDS)];
} ciot_control_buffer;

int ciot_socket_pair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

ssize_t ciot_socket_send(int fd, const void *bytes, size_t length, const int *fds, int fd_count, int flags) {
    if (fd_count < 0 || fd_count > CIOT_SOCKET_MAX_FDS || (fd_count > 0 && fds == NULL)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = { .iov_base = (void *)bytes, .iov_len = length };
    struct msghdr msg;
    ciot_control_buffer control;
    memset(&msg, 0, sizeof(msg));
    memset(&control, 0, sizeof(control));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd_count > 0) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)fd_count);
    }
    ssize_t sent;
    do {
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL | (flags & MSG_DONTWAIT));
    } while (sent == -1 && errno == EINTR);
    return sent;
}

ssize_t ciot_socket_receive(int fd, void *buffer, size_t capacity, int flags, int *fds, int *fd_count, int *msg_flags) {
    struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
    struct msghdr msg;
    ciot_control_buffer control;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    *fd_count = 0;
    *msg_flags = 0;
    ssize_t received;
    do {
        received = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_TRUNC | (flags & MSG_DONTWAIT));
    } while (received == -1 && errno == EINTR);
    if (received == -1) return -1;
    *msg_flags = msg.msg_flags;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len < CMSG_LEN(0)) continue;
        size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cmsg);
        for (size_t i = 0; i < count; i++) {
            int received_fd;
            memcpy(&received_fd, data + i * sizeof(int), sizeof(int));
            // The control buffer holds at most CIOT_SOCKET_MAX_FDS, so this never closes one;
            // it only keeps `fds` in bounds whatever the kernel reports.
            if (*fd_count < CIOT_SOCKET_MAX_FDS) {
                fds[(*fd_count)++] = received_fd;
            } else {
                close(received_fd);
            }
        }
    }
    return received;
}

int ciot_socket_is_unix_seqpacket(int fd) {
    int domain = -1, type = -1;
    socklen_t length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == -1) return errno == ENOTSOCK ? 0 : -1;
    length = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == -1) return -1;
    return domain == AF_UNIX && type == SOCK_SEQPACKET;
}

int ciot_socket_peer_credentials(int fd, ciot_peer_credentials *credentials) {
    struct ucred ucred;
    socklen_t length = sizeof(ucred);
    memset(&ucred, 0, sizeof(ucred));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &length) == -1) return -1;
    if (length != sizeof(ucred)) {
        errno = EPROTO;
        return -1;
    }
    credentials->pid = ucred.pid;
    credentials->uid = ucred.uid;
    credentials->gid = ucred.gid;
    return 0;
}
