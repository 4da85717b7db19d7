/* See loopback.h. */
#include "loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int test_listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof sin;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&sin, &slen)) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}
