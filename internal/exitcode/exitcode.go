// Package exitcode maps errors onto the exit codes every Rehearsal binary shares:
// 0 ok, 1 negative verdict, 2 bad input or usage, 3 infrastructure failure,
// 4 stopped at a gate awaiting approval (local runner).
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes.
const (
	OK       = 0
	Negative = 1
	BadInput = 2
	Infra    = 3
	Pending  = 4
)

// Error carries an exit code with the error that caused it.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap gives err an exit code; nil stays nil.
func Wrap(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Input marks err as bad input (exit 2).
func Input(err error) error { return Wrap(BadInput, err) }

// Inputf formats a bad-input error.
func Inputf(format string, args ...any) error { return Input(fmt.Errorf(format, args...)) }

// Infrastructure marks err as an infrastructure failure (exit 3).
func Infrastructure(err error) error { return Wrap(Infra, err) }

// Verdict marks err as a negative verdict (exit 1).
func Verdict(err error) error { return Wrap(Negative, err) }

// Code returns the exit code for err: 0 for nil, the carried code when there is
// one, and 3 for an error nobody classified (something outside the input failed).
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Infra
}
