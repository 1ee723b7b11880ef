package caddymodule

import "errors"

// errClientGone stops a response whose client has left before it is
// rendered: rendering, and writing, for no one is wasted work, and a large
// source object or lifted claim makes that work large.
var errClientGone = errors.New("client gone before the token response was rendered")
