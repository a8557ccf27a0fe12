/* A test HTTP/1.1 server whose every answer takes a known time: tests/support/delayserver.py.
 *
 * How it works. One thread, epoll, keep-alive connections. Each complete request (a head
 * ending in CRLFCRLF; bodies by Content-Length are skipped) is answered DELAY_US after it was
 * read, at an instant of CLOCK_MONOTONIC kept in a FIFO (the delay is the same for all, so the
 * FIFO is in time order). A timerfd armed at the head's absolute instant wakes the loop: no
 * rounding to milliseconds, no timer slack (asyncio's timers would add ~1 ms). After request
 * number STALL_AFTER (0: never) the server stalls for STALL_MS: every answer due before the
 * stall's end waits for it, as a whole service frozen by a GC pause would.
 *
 * Usage: delay_server DELAY_US [STALL_AFTER STALL_MS]. It listens on 127.0.0.1, an ephemeral
 * port, prints the port on stdout, and serves until stdin closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define QUEUE 1048576 /* answers pending at once: far above what a test keeps in flight */
#define BUF 16384

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

struct conn {
    unsigned gen; /* bumped when the fd closes, so a queued answer never goes to its successor */
    int open;
    size_t used;
    size_t skip; /* body bytes still to skip */
    char buf[BUF];
};

struct pending {
    int64_t due;
    int fd;
    unsigned gen;
};

static struct conn *conns[MAX_FDS];
static struct pending queue[QUEUE];
static size_t head, tail;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void arm(int tfd, int64_t due) {
    struct itimerspec spec = {0};
    if (due > 0) {
        spec.it_value.tv_sec = due / 1000000000;
        spec.it_value.tv_nsec = due % 1000000000;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static void close_conn(int epfd, int fd) {
    struct conn *c = conns[fd];
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    c->open = 0;
    c->gen++;
    c->used = 0;
    c->skip = 0;
}

static size_t content_length(const char *head_start, const char *end) {
    for (const char *p = head_start; p < end; p++) {
        if ((p == head_start || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s DELAY_US [STALL_AFTER STALL_MS]\n", argv[0]);
        return 2;
    }
    int64_t delay = atoll(argv[1]) * 1000;
    long stall_after = argc == 4 ? atol(argv[2]) : 0;
    int64_t stall_ns = argc == 4 ? atoll(argv[3]) * 1000000 : 0;
    int64_t stall_until = 0;
    long served = 0;
    prctl(PR_SET_TIMERSLACK, 1UL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) {
        perror("listen");
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &len);
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int epfd = epoll_create1(0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = tfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
    ev.data.fd = 0; /* stdin: closed when the test is done */
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == 0) {
                return 0;
            } else if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (cfd >= MAX_FDS) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (!conns[cfd])
                        conns[cfd] = calloc(1, sizeof(struct conn));
                    conns[cfd]->open = 1;
                    struct epoll_event cev = {.events = EPOLLIN};
                    cev.data.fd = cfd;
                    epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
                }
            } else if (fd == tfd) {
                uint64_t expirations;
                (void)!read(tfd, &expirations, sizeof expirations);
            } else {
                struct conn *c = conns[fd];
                ssize_t got = read(fd, c->buf + c->used, BUF - c->used);
                if (got <= 0) {
                    if (got == 0 || (errno != EAGAIN && errno != EINTR))
                        close_conn(epfd, fd);
                    continue;
                }
                int64_t read_at = now_ns();
                c->used += (size_t)got;
                size_t start = 0;
                for (;;) {
                    if (c->skip) {
                        size_t take = c->used - start < c->skip ? c->used - start : c->skip;
                        start += take;
                        c->skip -= take;
                        if (c->skip)
                            break;
                    }
                    char *end = memmem(c->buf + start, c->used - start, "\r\n\r\n", 4);
                    if (!end)
                        break;
                    c->skip = content_length(c->buf + start, end);
                    start = (size_t)(end - c->buf) + 4;
                    served++;
                    if (stall_after && served == stall_after)
                        stall_until = read_at + stall_ns;
                    queue[tail % QUEUE] = (struct pending){read_at + delay, fd, c->gen};
                    tail++;
                    if (tail - head == 1)
                        arm(tfd, read_at + delay);
                }
                memmove(c->buf, c->buf + start, c->used - start);
                c->used -= start;
                if (c->used == BUF)
                    close_conn(epfd, fd); /* a head larger than the buffer: not for this server */
            }
        }
        int64_t now = now_ns();
        while (head != tail) {
            struct pending *p = &queue[head % QUEUE];
            int64_t due = p->due;
            if (due >= stall_until - stall_ns && due < stall_until)
                due = stall_until; /* due while the server is frozen: at the end of it */
            if (due > now) {
                arm(tfd, due);
                break;
            }
            struct conn *c = conns[p->fd];
            if (c->open && c->gen == p->gen &&
                write(p->fd, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
                close_conn(epfd, p->fd); /* a full socket buffer: the client stopped reading */
            head++;
        }
    }
}
