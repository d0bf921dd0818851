// Package admin is the gateway's local admin socket: the way `pagebridge
// backup`, `pagebridge audit verify` and `pagebridge keys rotate` reach a
// running daemon, which alone may hold the store open.
//
// The socket is a Unix stream socket created with mode 0660 in a directory
// of its own. Every connection's peer credentials (SO_PEERCRED) are checked:
// only root and the daemon's own user are served, whatever the file mode.
//
// The protocol is one JSON [Request] line from the client and one JSON
// [Response] line from the server; a backup then streams exactly
// Response.Size bytes of database file after that line.
//
// # Caveats
//
//   - Linux only: peer credentials come from SO_PEERCRED.
//   - A client that cannot connect (no socket, nothing listening) gets an
//     error wrapping [ErrNotRunning]; the commands then open the store
//     directly, which only works while the daemon is stopped.
package admin
