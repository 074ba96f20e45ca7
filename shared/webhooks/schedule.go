package webhooks

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Schedule is how a delivery is retried: Schedule[i] is the wait after the
// (i+1)-th attempt of a round failed, so a round is len+1 attempts; after
// the last one fails the delivery is dead (kept in the dead-letter list,
// re-sendable: a re-send starts a new round).
type Schedule []time.Duration

// DefaultSchedule is the schedule of Standard Webhooks' (and Svix's)
// recommendation: at once, then after 5 seconds, 5 minutes, 30 minutes, 2,
// 5, 10 and 10 hours — 8 attempts over 27 h 35 min, more than a day for an
// endpoint to come back.
var DefaultSchedule = Schedule{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MinSpan is the least time a round of deliveries must span (the first
// attempt to the last).
const MinSpan = 24 * time.Hour

// Attempts is the number of attempts of a round.
func (s Schedule) Attempts() int { return len(s) + 1 }

// Span is the time from a round's first attempt to its last, when every
// attempt fails at once.
func (s Schedule) Span() time.Duration {
	var d time.Duration
	for _, w := range s {
		d += w
	}
	return d
}

// Next decides what follows the try-th attempt of a round (1-based) that
// failed at at: the next attempt is due at due, or, after the last, the
// delivery is dead.
func (s Schedule) Next(try int, at time.Time) (due time.Time, dead bool) {
	if try < 1 || try > len(s) {
		return time.Time{}, true
	}
	return at.Add(s[try-1]), false
}

// MaxWait is the longest wait between two attempts: a message waits at most
// MaxDelay on SQS's delay, then at most MaxVisibility hidden after each
// receipt (see Wait).
const MaxWait = MaxDelay + MaxVisibility

// ParseSchedule reads a schedule written as Go durations separated by commas
// ("5s,5m,30m,2h"): ACCRUE_WEBHOOK_SCHEDULE, make dev's WEBHOOK_SCHEDULE.
// Every wait is between 1 second and MaxWait.
func ParseSchedule(s string) (Schedule, error) {
	var out Schedule
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("webhook schedule %q: %w", s, err)
		}
		if d < time.Second || d > MaxWait {
			return nil, fmt.Errorf("webhook schedule %q: each wait from 1s to %s", s, MaxWait)
		}
		out = append(out, d)
	}
	return out, nil
}

// String writes the schedule as ParseSchedule reads it.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// SQS's limits on how long a message can wait.
const (
	// MaxDelay is SQS's longest message delay (DelaySeconds).
	MaxDelay = 15 * time.Minute
	// MaxVisibility is SQS's longest visibility timeout.
	MaxVisibility = 12 * time.Hour
)

// DelaySeconds is the delay of a new message whose attempt is due in d: d
// in whole seconds, rounded up, at most MaxDelay. A longer wait is made up
// by hiding the message after it arrives (VisibilitySeconds).
func DelaySeconds(d time.Duration) int32 {
	return int32(min(ceilSeconds(d), int64(MaxDelay/time.Second)))
}

// VisibilitySeconds is how long to hide a message that arrived d before its
// attempt is due: d rounded up to whole seconds, at least 1, at most
// MaxVisibility. (A 10-hour wait is a 15-minute delay and one 9 h 45 min
// hiding: each message is received at most twice when nothing fails.)
func VisibilitySeconds(d time.Duration) int32 {
	return int32(min(max(ceilSeconds(d), 1), int64(MaxVisibility/time.Second)))
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// The webhooks function and its queues, as the CDK stack and the local stack
// make them.
const (
	// FunctionTimeout of the webhooks function: a batch's attempts run at
	// once, each within AttemptTimeout.
	FunctionTimeout = 30 * time.Second
	// QueueVisibility of both queues: six times the function's timeout
	// (AWS's advice for Lambda consumers), so a batch being handled is not
	// given out again.
	QueueVisibility = 6 * FunctionTimeout
	// BatchSize of both queues' event source mappings.
	BatchSize = 10
)
