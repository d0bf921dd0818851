//go:build !linux

package serialport

import (
	"errors"
	"os"
)

const flowOpenFlags = os.O_RDWR

// setRTSCTS is only implemented on Linux.
func setRTSCTS(*os.File) error { return errors.ErrUnsupported }
