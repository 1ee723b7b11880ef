package sources

import (
	"errors"
	"io"
)

// ErrTooLarge is returned by ReadAtMost for input longer than its limit.
var ErrTooLarge = errors.New("larger than the size limit")

// ReadAtMost reads r to its end when it holds at most max bytes, and
// returns ErrTooLarge as soon as it has read max+1 bytes: bigger input is
// never held in memory whole. The buffer grows by doubling, capped at
// max+1, so reading allocates at most about twice the limit; sizeHint (a
// Content-Length, or -1) sizes it at once when known. It is the one
// bounded reader of token_enrich and its sources.
func ReadAtMost(r io.Reader, max, sizeHint int64) ([]byte, error) {
	size := int64(512)
	if sizeHint >= 0 {
		size = sizeHint + 1 // room to see the end
	}
	buf := make([]byte, 0, min(size, max+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > max {
				return nil, ErrTooLarge
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf))+512, max+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if int64(len(buf)) > max {
				return nil, ErrTooLarge
			}
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
