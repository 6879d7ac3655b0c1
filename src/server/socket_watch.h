// Socket helpers cpp-httplib 0.11 does not offer: finding the fd of a request's connection (to
// notice a client that went away while its request waits or generates without writing), and
// raising the listen backlog that the library hard-codes to 5.
#pragma once

#include <string>

namespace dsvl2::server {

// The connected socket whose peer is remote_addr:remote_port and whose local port is local_port;
// -1 if none. Scans /proc/self/fd (Linux).
int FindConnectionFd(const std::string& remote_addr, int remote_port, int local_port);
// True when the peer has closed or reset the connection (POLLRDHUP/POLLHUP/POLLERR); never blocks.
bool PeerGone(int fd);
// Calls listen(fd, backlog) again on the listening socket bound to `port` (Linux updates the
// backlog of a listening socket). Returns false if the socket was not found.
bool RaiseListenBacklog(int port, int backlog);

}  // namespace dsvl2::server
