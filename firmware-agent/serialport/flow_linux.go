package serialport

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// flowOpenFlags open the tty for setRTSCTS without making it our terminal or
// waiting for carrier.
const flowOpenFlags = os.O_RDWR | syscall.O_NOCTTY | syscall.O_NONBLOCK

// setRTSCTS turns on RTS/CTS hardware flow control on the tty behind f.
func setRTSCTS(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Cflag |= unix.CRTSCTS
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
